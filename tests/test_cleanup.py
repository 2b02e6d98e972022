"""Cleanup removes only what a run made and never hangs: a dead engine ends it at once, a container still
using an image is waited for (bounded), another build's image is never reported as ours, and a second Ctrl-C
ends it naming what was left (issue 16 signals; issue 8 items 6 and 10)."""

from __future__ import annotations

import json
import os
import time

from cacheprof.capture.cleanup import Ledger, Leftover, Removal, clean, describe_leftovers, remove_all


class Remover:
    def __init__(self, answers: dict[str, list[Removal]], interrupt_at: int | None = None) -> None:
        self.answers, self.calls, self.interrupt_at = answers, [], interrupt_at
        self.address = "unix:///fake.sock"

    def remove_image(self, ref: str, *, untagged_only: bool = False) -> Removal:
        self.calls.append((ref, untagged_only))
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        queue = self.answers.get(ref) or [Removal.REMOVED]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def labelled(self):
        return [], []

    def remove_container(self, container_id: str) -> Removal:
        return Removal.REMOVED


def test_tags_go_by_tag_and_step_images_by_id_only_while_untagged():
    r = Remover({})
    assert remove_all(r, ["cacheprof/x:b1"], ["abc123"], wait_s=1) == []
    assert r.calls == [("cacheprof/x:b1", False), ("abc123", True)]


def test_a_dead_engine_ends_cleanup_at_once_and_names_everything_left():
    r = Remover({"t1": [Removal.NO_ENGINE]})
    t0 = time.monotonic()
    left = remove_all(r, ["t1", "t2"], ["i1", "i2"], wait_s=30)
    assert time.monotonic() - t0 < 1 and len(r.calls) == 1
    assert [x.ref for x in left] == ["t1", "t2", "i1", "i2"]
    assert "remove them with `cacheprof clean`" in describe_leftovers(left)


def test_an_image_in_use_is_retried_then_reported_and_a_shared_one_is_left_alone():
    r = Remover({"i1": [Removal.IN_USE, Removal.REMOVED], "i2": [Removal.IN_USE], "i3": [Removal.SHARED]})
    left = remove_all(r, [], ["i1", "i2", "i3"], wait_s=0.6)
    assert [x.ref for x in left] == ["i2"] and left[0].reason == str(Removal.IN_USE)


def test_a_second_ctrl_c_ends_cleanup_and_says_what_was_left():
    r = Remover({}, interrupt_at=2)
    left = remove_all(r, ["cacheprof/run-1:b1"], ["0123456789ab", "ba9876543210"], wait_s=5)
    # The tag went; the second call was interrupted: it and everything after it is named.
    assert [(x.ref, x.reason) for x in left] == [("0123456789ab", "cleanup interrupted"),
                                                 ("ba9876543210", "cleanup interrupted")]
    assert describe_leftovers(left) == ("left behind 2 step image(s) (cleanup interrupted); "
                                        "remove them with `cacheprof clean`")
    assert describe_leftovers([Leftover("cacheprof/run-1:b1", "engine not answering")]) == (
        "left behind 1 tag(s) (cacheprof/run-1:b1) (engine not answering); remove them with `cacheprof clean`")


def test_the_ledger_is_deleted_when_nothing_is_left_and_clean_reads_it(tmp_path):
    ledger = Ledger("r1", "unix:///fake.sock", tmp_path)
    ledger.add(tags=["cacheprof/run-r1:b1"], images=["abc"])
    doc = json.loads(ledger.path.read_text())
    assert doc["tags"] == ["cacheprof/run-r1:b1"] and doc["images"] == ["abc"] and doc["pid"] == os.getpid()
    ledger.forget(keep=["abc"])
    assert json.loads(ledger.path.read_text())["images"] == ["abc"]
    # A run whose process is gone: `clean` removes what its ledger names, then the ledger.
    doc = json.loads(ledger.path.read_text())
    doc["pid"] = 2**22 + 12345  # no such process
    ledger.path.write_text(json.dumps(doc))
    (tmp_path / "other.json").write_text(json.dumps({**doc, "engine": "unix:///another.sock", "run_id": "r2"}))
    r = Remover({})
    report = clean(r, tmp_path)
    assert report.removed == ["abc"] and r.calls == [("abc", True)]
    assert not ledger.path.exists() and (tmp_path / "other.json").exists()
    ledger.forget()
    assert not ledger.path.exists()


def test_clean_leaves_a_run_in_progress_alone(tmp_path):
    ledger = Ledger("live", "unix:///fake.sock", tmp_path)
    ledger.add(images=["abc"])
    doc = json.loads(ledger.path.read_text())
    doc["pid"] = os.getppid()  # alive, and not this process
    ledger.path.write_text(json.dumps(doc))
    r = Remover({})
    report = clean(r, tmp_path)
    assert report.running == ["live"] and report.removed == [] and r.calls == []
    assert Leftover("x", "y").ref == "x"


def test_a_parent_named_by_its_child_goes_once_the_child_is_removed():
    # Restored step images are added after the images of the steps that ran on top of them: the parent
    # comes first youngest-first and conflicts with its child until the child is gone.
    r = Remover({"parent": [Removal.SHARED, Removal.REMOVED], "foreign-child": [Removal.SHARED]})
    assert remove_all(r, [], ["parent", "child", "foreign-child"], wait_s=1) == []
    assert [c for c, _ in r.calls] == ["parent", "child", "foreign-child", "parent", "foreign-child", "foreign-child"]
