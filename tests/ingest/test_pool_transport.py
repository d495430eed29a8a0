"""The parsing pool's transport: files several to a message, results packed with named layouts."""

from __future__ import annotations

import dataclasses
import os
import time

from ingest_helpers import AS_OF, good_rows, one_bad_among_good, r, write_csv

from kpi.ingest import ingest_plans, prepare
from kpi.ingest.prepare import Limits, Prepared, prepare_file, prepared

LIMITS = Limits(20_000_000, 200_000_000)


class Text(str):
    """A str subclass: it must come back as itself, not as a plain str."""


def _through_pipe(frames: bytes) -> list[Prepared]:
    """What the ingesting process makes of a worker's frames: each result as the consumer gets it."""
    read_end, write_end = os.pipe()
    os.write(write_end, frames)
    os.close(write_end)
    os.set_blocking(read_end, False)
    worker = prepare._Worker.__new__(prepare._Worker)
    worker.fd, worker.buf, worker.layouts = read_end, bytearray(), {}
    try:
        messages = worker.messages()
    finally:
        os.close(read_end)
    assert {kind for kind, _ in messages} == {"done"}
    results = []
    for _, (weight, packed) in messages:
        p = prepare.unpacked(*packed)
        assert weight == p.weight
        results.append(p)
    return results


def test_results_come_back_as_they_went_with_each_row_layout_sent_once(tiny_catalogue, tmp_path):
    files = [
        write_csv(tmp_path / "a.csv", good_rows()),
        write_csv(tmp_path / "b.csv", [r("科技局", "2023-06", "hightech_firms", "家", 9)]),
        write_csv(tmp_path / "c.csv", good_rows("2023-05")),
    ]
    (tmp_path / "empty.csv").write_bytes(b"")
    results = [prepare_file(f, tiny_catalogue, AS_OF, LIMITS) for f in files]
    results.append(prepare_file(tmp_path / "empty.csv", tiny_catalogue, AS_OF, LIMITS))
    odd = dataclasses.replace(results[0], keys=tuple(map(Text, results[0].keys)))
    results.append(odd)
    layouts: dict[tuple, int] = {}
    frames = [prepare._result_frames(p, layouts) for p in results]
    back = _through_pipe(b"".join(frames))
    assert back == results
    assert [type(k) for k in back[-1].keys] == [Text] * len(odd.keys)
    assert back[0].columns is not back[2].columns  # each result's own list to change
    # The same layout is named by number after its first trip: later frames are smaller.
    assert len(frames[2]) < len(frames[0])
    assert len(layouts) == 3  # the parsed files' keys and columns, the refused file's ()


def test_a_result_that_cannot_be_packed_is_refused_and_names_no_layout(tiny_catalogue, tmp_path):
    p = prepare_file(write_csv(tmp_path / "a.csv", good_rows()), tiny_catalogue, AS_OF, LIMITS)
    broken = dataclasses.replace(p, rows=[((x for x in ()),)])  # pickle cannot carry it
    layouts: dict[tuple, int] = {}
    refused = prepare._result_frames(broken, layouts)
    # Its keys and columns were not named: the next result of that layout carries them itself.
    [back, good] = _through_pipe(refused + prepare._result_frames(p, layouts))
    assert back.refusal[1] == "unexpected" and back.error and back.rows is None
    assert good == p


def test_staged_copies_of_results_never_taken_are_removed_on_close(tiny_catalogue, tmp_path):
    archive = tmp_path / "archive"
    files = [
        write_csv(tmp_path / f"f{i}.csv", [r("科技局", "2023-06", "hightech_firms", "家", i)])
        for i in range(6)
    ]
    prepare._stop_idle()
    stream = prepared([(tiny_catalogue, f) for f in files], AS_OF, LIMITS, 1, archive=str(archive))
    try:
        first = next(stream)
        deadline = time.monotonic() + 60
        while len(stream.results) < len(files) - 1:  # every other result has arrived, packed
            assert time.monotonic() < deadline, "the worker never sent its results"
            time.sleep(0.01)
    finally:
        stream.close()
        prepare._stop_idle()
    assert first.staged is not None
    assert os.listdir(archive / prepare.STAGING) == [os.path.basename(first.staged)]


def test_a_worker_that_hangs_in_the_middle_of_a_batch_costs_only_its_own_file(
    cfg, tiny_catalogue, tmp_path, monkeypatch
):
    # All the files go to the workers in the first messages (several files each): the one that
    # hangs is refused for time, and the files sent with it, behind it, are parsed elsewhere.
    prepare._stop_idle()
    monkeypatch.setenv("KPI_FAILPOINT", "worker-hang:bad.csv")
    n = 20
    files = one_bad_among_good(tmp_path, n, 7)
    limited = dataclasses.replace(cfg, parse_seconds=3)
    try:
        [receipts] = ingest_plans(limited, [(tiny_catalogue, files)], as_of=AS_OF, workers=2)
    finally:
        prepare._stop_idle()
    assert [x["file"] for x in receipts] == [f.name for f in files]
    assert [x["status"] for x in receipts].count("accepted") == n
    assert receipts[7]["status"] == "rejected" and receipts[7]["refusal"] == "timeout"
