"""Pacing a playground session's training: fit's epoch seams are where the page's commands
are applied, where a paused run waits, and where frames go out at a steady rate.

A paused run blocks at the seam, so it resumes exactly where it was, with the same batch order.
Segment lengths (epochs between two looks at the command queue) adapt to the speed of the
machine, so frames keep coming (>= 10 per second) however many sessions share it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mlplab.training.callbacks import Callback

if TYPE_CHECKING:
    from mlplab.web.sessions import Session

SEGMENT_SECONDS = 0.02  # training time between two looks at the command queue


class Stream(Callback):
    """fit's hook for a session: commands in, frames out, pause by blocking at the seam."""

    def __init__(self, session: Session, batches: bool = False) -> None:
        self.s = session
        self.every = 1
        # on mini-batches, frames also go out between batches (slow epochs); a full batch's
        # batch end is its epoch end, so it asks for nothing more (and the fused runner stays)
        self.batch_end = batches
        self._t_last = 0.0
        self._e_last = 0

    def on_train_begin(self, state: Any) -> None:
        self.s.state = state
        self._t_last, self._e_last = time.perf_counter(), state.epoch

    def on_epoch(self, state: Any) -> None:
        s = self.s
        now = time.perf_counter()
        per_epoch = (now - self._t_last) / max(1, state.epoch - self._e_last)
        self.every = max(1, min(2000, int(SEGMENT_SECONDS / max(per_epoch, 1e-6))))
        s.drain(block=False)
        s.maybe_pass_turn()
        if s.play.stepping or not s.play.playing or (now - s.last_frame >= 1.0 / s.limits.fps
                                           and s.ready()):
            s.send_frame()
        s.play.stepping = False
        play = s.play
        if not play.playing and not play.step_wanted and not play.restart and not s.closed:
            s.turns.release()  # paused: wait for the page without holding a turn
            try:
                while not play.playing and not play.step_wanted and not play.restart \
                        and not s.closed:
                    s.drain(block=True)
            finally:
                s.turns.acquire(s.busy)
        if s.play.restart or s.closed:
            state.stop, state.stop_reason = True, "stopped by the page"
        if s.play.step_wanted:
            self.every, s.play.stepping = 1, True
            s.play.step_wanted -= 1
        self._t_last, self._e_last = time.perf_counter(), state.epoch

    def on_batch_end(self, state: Any, batch_index: int) -> None:
        self.s.between_batches()


__all__ = ["SEGMENT_SECONDS", "Stream"]
