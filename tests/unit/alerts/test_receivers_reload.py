"""Receivers file reload: a settled valid change is applied; a broken, empty or missing file keeps the last good."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from services.alerts.adapters.receivers_reload import ReceiversWatcher
from services.alerts.domain.file_watch import ChangeTracker, Signature
from services.alerts.domain.receivers import ReceiversConfigError

SECRET = "k3J9x2mQ7vB4nL8pR1tY6wZ0"
ENV = {"HOOK_SECRET": SECRET}


def receivers_text(*names: str) -> str:
    body = "".join(
        f"  - {{name: {n}, type: webhook, url: 'https://{n}.example.vn/hook', secret_env: HOOK_SECRET}}\n"
        for n in names
    )
    return f"version: 1\nreceivers:\n{body}" if names else "version: 1\nreceivers: []\n"


@dataclass
class FakeFile:
    """A file the test edits: its text and a signature that changes with every write (as mtime does)."""

    text: str
    version: int = 1
    missing: bool = False

    def write(self, text: str) -> None:
        self.text = text
        self.version += 1

    def stat(self) -> Signature:
        return None if self.missing else (self.version, len(self.text))

    def read(self) -> str:
        if self.missing:
            raise FileNotFoundError("receivers.yaml")
        return self.text


def watcher_on(file: FakeFile) -> ReceiversWatcher:
    return ReceiversWatcher("receivers.yaml", file.stat, file.read, ENV)


def names(watcher: ReceiversWatcher) -> list[str]:
    return [r.name for r in watcher.current.all]


def test_tracker_offers_a_new_version_once_it_is_settled_and_only_once() -> None:
    tracker = ChangeTracker((1, 10))
    assert not tracker.observe((1, 10))  # unchanged
    assert not tracker.observe((2, 0))  # just changed: maybe half-written
    assert not tracker.observe((3, 12))  # still moving
    assert tracker.observe((3, 12))  # the same at two checks: read it
    assert not tracker.observe((3, 12))  # offered once
    assert not tracker.observe(None)
    assert tracker.observe(None)  # a vanished file is offered too (and then kept out by the reader)


def test_a_valid_change_replaces_the_receivers_after_it_settles() -> None:
    file = FakeFile(receivers_text("ops"))
    watcher = watcher_on(file)
    assert watcher.check() is None and names(watcher) == ["ops"]

    file.write(receivers_text("ops", "oncall"))
    assert watcher.check() is None  # first sight of the change
    fresh = watcher.check()
    assert fresh is not None and [r.name for r in fresh.all] == ["ops", "oncall"]
    assert fresh.secrets["oncall"] == SECRET
    assert names(watcher) == ["ops", "oncall"]
    assert watcher.check() is None


@pytest.mark.parametrize(
    "broken",
    [
        "version: 1\nreceivers: [",  # not YAML
        "version: 1\nreceivers:\n  - {name: ops, type: pager}\n",  # unknown type
        receivers_text("ops").replace("HOOK_SECRET", "UNSET_SECRET"),  # secret variable missing
        "",  # truncated / half-written
    ],
)
def test_a_broken_file_is_logged_once_and_the_last_good_receivers_stay(
    broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    file = FakeFile(receivers_text("ops"))
    watcher = watcher_on(file)
    file.write(broken)
    with caplog.at_level(logging.ERROR):
        assert watcher.check() is None
        assert watcher.check() is None
        assert watcher.check() is None
    assert names(watcher) == ["ops"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "giữ cấu hình cũ" in errors[0].getMessage()

    file.write(receivers_text("ops", "backup"))  # fixed: applied at the next settled check
    watcher.check()
    assert watcher.check() is not None and names(watcher) == ["ops", "backup"]


def test_a_vanished_file_keeps_the_receivers_and_its_return_is_read() -> None:
    file = FakeFile(receivers_text("ops"))
    watcher = watcher_on(file)
    file.missing = True
    assert watcher.check() is None and watcher.check() is None
    assert names(watcher) == ["ops"]
    file.missing = False
    file.write(receivers_text("ops2"))
    watcher.check()
    assert watcher.check() is not None and names(watcher) == ["ops2"]


def test_an_explicitly_empty_receivers_list_is_a_valid_change() -> None:
    file = FakeFile(receivers_text("ops"))
    watcher = watcher_on(file)
    file.write(receivers_text())
    watcher.check()
    assert watcher.check() is not None and names(watcher) == []


def test_a_broken_file_at_start_still_stops_the_service() -> None:
    with pytest.raises(ReceiversConfigError):
        watcher_on(FakeFile("version: 1\nreceivers: ["))
