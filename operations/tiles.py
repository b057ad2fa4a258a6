"""Status tiles: a job's latest state for one (action, target), beside the button that starts it.

A card shows them (templates/operations/_status_tile.html) and names the job types it follows
(`Card.jobs`); `change_render` pushes such a card whenever one of those jobs is queued, starts,
changes phase or ends, so a tile turns queued → running → done and its button comes back by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from operations import broadcasts, cards, fragments, selectors
from operations.broadcasts import Change
from operations.models import Job, JobState

WORDS = {JobState.QUEUED: "queued", JobState.RUNNING: "running", JobState.CANCELLING: "cancelling"}


@dataclass(frozen=True)
class Tile:
    action: str  # the job type
    target: str  # what it acts on, as its lock key names it after the type: "peer:laptop"
    label: str  # the button's text, e.g. "Verify connection"
    subject: str  # what the button acts on, for its accessible name: "laptop"
    url: str  # where the button posts
    job: Job | None = None
    done_word: str = "succeeded"

    @property
    def dom_id(self) -> str:
        return "tile-" + re.sub(r"[^a-z0-9_-]+", "-", f"{self.action}-{self.target}".lower())

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.is_active

    @property
    def state(self) -> str:
        return self.job.state if self.job is not None else "never"

    @property
    def word(self) -> str:
        if self.job is None:
            return "not run yet"
        if self.job.state == JobState.SUCCEEDED:
            return self.done_word
        return WORDS.get(self.job.state, self.job.state)

    @property
    def since(self):
        job = self.job
        return job and (job.finished_at or job.started_at or job.created_at)

    @property
    def reason(self) -> str:
        """Why it failed, or what it found."""
        if self.job is None:
            return ""
        if self.job.error:
            return self.job.error
        result = self.job.result if isinstance(self.job.result, dict) else {}
        return str(result.get("message", ""))


def tiles_with_jobs(tiles: list[Tile]) -> list[Tile]:
    """The tiles, each with its action's latest job for its target; one query per action."""
    found: dict[tuple[str, str], Job] = {}
    for action in {tile.action for tile in tiles}:
        keys = [f"{action}:{tile.target}" for tile in tiles if tile.action == action]
        found.update({(action, key): job for key, job in selectors.job_latest_by_lock(type=action, lock_keys=keys).items()})
    return [
        Tile(**{**tile.__dict__, "job": found.get((tile.action, f"{tile.action}:{tile.target}"))}) for tile in tiles
    ]


def change_render(change: Change) -> broadcasts.Rendered | tuple[str, str] | None:
    """Render a change as fragments.change_render does; after a job's change that is not progress alone,
    also push the cards that follow its type (they come next from the same publisher)."""
    if change.kind == "job" and not change.progress_only and cards.followed_types():
        job_type = Job.objects.filter(pk=change.key).values_list("type", flat=True).first()
        for card in cards.cards_following(job_type):
            broadcasts.card_changed(card.name)
    return fragments.change_render(change)
