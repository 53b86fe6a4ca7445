"""Verification fails on an edited, deleted, inserted and reordered record, and only there."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from app.identity.keys import generate_key
from app.services.audit.chain import fields_of, record_hash
from app.services.audit.verify import Report, verify
from tests.audit.chains import T0, Chain, at_text


def built() -> Chain:
    chain = Chain()
    chain.add(10).checkpoint().add(10).checkpoint().add(5)  # 25 records, checkpoints 10 and 20
    return chain


def check(chain: Chain, records: list[dict[str, Any]] | None = None, **kw: bool) -> Report:
    return verify(
        records if records is not None else chain.records, chain.checkpoints, chain.keys, **kw
    )


def test_a_clean_chain_verifies_and_says_where_it_ends() -> None:
    report = check(built())
    assert report.ok, report.first
    (writer,) = report.writers
    assert (writer.first_seq, writer.last_seq, writer.covered_to, writer.uncovered) == (
        1,
        25,
        20,
        5,
    )
    assert writer.anchored
    assert report.records == 25
    assert report.checkpoints == 2


def test_a_chain_that_just_stops_is_not_a_break() -> None:
    chain = built()
    report = check(chain, chain.records[:22])  # a crash lost seqs 23-25 (after checkpoint 20)
    assert report.ok
    assert report.writers[0].last_seq == 22
    assert report.writers[0].uncovered == 2


def test_an_edited_record_is_named() -> None:
    chain = built()
    records = copy.deepcopy(chain.records)
    records[6]["status"] = 404  # seq 7
    report = check(chain, records)
    first = report.first
    assert first is not None
    assert (first.writer, first.seq, first.kind) == (chain.writer, 7, "edited")
    assert first.event_id == "ev-000007"
    assert first.at == at_text(records[6])
    assert "seq 7" in first.sentence()
    assert "edited" in first.sentence()


def test_an_edited_record_with_its_hash_recomputed_breaks_the_link() -> None:
    chain = built()
    records = copy.deepcopy(chain.records)
    records[6]["status"] = 404
    records[6]["hash"] = record_hash(fields_of(records[6]))
    first = check(chain, records).first
    assert first is not None
    assert first.seq == 8  # seq 7 hashes again, but seq 8 chains to its old hash
    assert first.kind == "inserted"


def test_a_rewritten_stretch_is_caught_by_its_checkpoint() -> None:
    chain = built()
    records = copy.deepcopy(chain.records)
    records[12]["status"] = 500  # seq 13, and everything after it rehashed and relinked
    for i in range(12, len(records)):
        if i > 12:
            records[i]["prev_hash"] = records[i - 1]["hash"]
        records[i]["hash"] = record_hash(fields_of(records[i]))
    first = check(chain, records).first
    assert first is not None
    assert (first.seq, first.kind) == (20, "rewritten")


def test_a_deleted_record_is_named() -> None:
    chain = built()
    records = [r for r in chain.records if r["seq"] != 12]
    first = check(chain, records).first
    assert first is not None
    assert (first.seq, first.kind) == (12, "deleted")
    assert "seq 13 follows seq 11" in first.reason


def test_records_a_checkpoint_signed_cannot_vanish_from_the_end() -> None:
    chain = built()
    first = check(chain, chain.records[:18]).first  # checkpoint 20 signed up to 20
    assert first is not None
    assert (first.seq, first.kind) == (19, "deleted")


def test_an_inserted_record_is_named() -> None:
    chain = built()
    records = copy.deepcopy(chain.records)
    forged = copy.deepcopy(records[4])  # a second seq 5, well formed and linked
    forged["at"] = forged["at"] + timedelta(milliseconds=5)
    forged["status"] = 403
    forged["event_id"] = "ev-forged"
    forged["hash"] = record_hash(fields_of(forged))
    for order in ([*records[:5], forged, *records[5:]], [*records[:4], forged, *records[4:]]):
        first = check(chain, order).first
        assert first is not None
        assert (first.seq, first.kind, first.event_id) == (5, "inserted", "ev-forged")


def test_a_record_moved_to_another_seq_is_reordered() -> None:
    chain = built()
    records = copy.deepcopy(chain.records)
    records[7]["seq"], records[8]["seq"] = 9, 8  # the database swaps seqs 8 and 9
    records.sort(key=lambda r: r["seq"])
    first = check(chain, records).first
    assert first is not None
    assert (first.seq, first.kind) == (8, "reordered")
    assert "written as seq 9" in first.reason


def test_lines_out_of_order_are_reordered_not_deleted() -> None:
    chain = built()
    records = list(chain.records)
    records[7], records[8] = records[8], records[7]  # a file holding seq 9 before seq 8
    first = check(chain, records).first
    assert first is not None
    assert (first.seq, first.kind) == (8, "reordered")


def test_a_forged_checkpoint_is_a_break() -> None:
    chain = built()
    chain.checkpoints[0] = {**chain.checkpoints[0], "head_hash": chain.records[8]["hash"]}
    first = check(chain).first
    assert first is not None
    assert (first.seq, first.kind) == (10, "checkpoint")
    chain = built()
    other = generate_key(T0)
    chain.checkpoints[1] = {**chain.checkpoints[1], "kid": other.kid}
    first = check(chain).first
    assert first is not None
    assert (first.seq, first.kind) == (20, "checkpoint")


def test_old_keys_still_verify_after_rotation() -> None:
    chain = Chain()
    chain.add(10).checkpoint()
    chain.add(10).checkpoint(generate_key(T0 + timedelta(days=1)))  # rotated
    assert len(chain.keys) == 2
    assert check(chain).ok
    first = verify(chain.records, chain.checkpoints, dict(list(chain.keys.items())[1:])).first
    assert first is not None
    assert (first.seq, first.kind) == (10, "checkpoint")


def test_after_a_purge_the_rest_verifies() -> None:
    chain = built()
    # Retention purged seqs 1-15 (covered by checkpoint 20) and the checkpoints before seq 15.
    records = chain.records[15:]
    checkpoints = [c for c in chain.checkpoints if c["seq"] >= 15]
    report = verify(records, checkpoints, chain.keys)
    assert report.ok, report.first
    assert report.writers[0].anchored
    # Exactly at a checkpoint: its head hash proves the first remaining record's link.
    report = verify(chain.records[10:], chain.checkpoints, chain.keys)
    assert report.ok, report.first
    # The same cut with checkpoint 10 still standing: not retention's doing.
    first = verify(chain.records[15:], chain.checkpoints, chain.keys).first
    assert first is not None
    assert (first.seq, first.kind) == (11, "deleted")
    # And a cut no checkpoint covers at all is a deletion.
    first = verify(chain.records[22:], chain.checkpoints[1:], chain.keys).first
    assert first is not None
    assert first.kind == "deleted"


def test_a_forged_start_after_a_purge_is_caught() -> None:
    chain = built()
    records = copy.deepcopy(chain.records[15:])
    records[0]["status"] = 201
    records[0]["hash"] = record_hash(fields_of(records[0]))
    records[1]["prev_hash"] = records[0]["hash"]
    records[1]["hash"] = record_hash(fields_of(records[1]))
    for i in range(2, len(records)):
        records[i]["prev_hash"] = records[i - 1]["hash"]
        records[i]["hash"] = record_hash(fields_of(records[i]))
    first = verify(records, [c for c in chain.checkpoints if c["seq"] >= 15], chain.keys).first
    assert first is not None
    assert (first.seq, first.kind) == (20, "rewritten")


def test_a_window_trusts_its_start_only_as_far_as_a_checkpoint_covers() -> None:
    chain = built()
    report = verify(chain.records[4:14], chain.checkpoints, chain.keys, window=True)
    assert report.ok
    assert report.writers[0].anchored  # checkpoint 10 lies inside it
    report = verify(chain.records[20:23], chain.checkpoints, chain.keys, window=True)
    assert report.ok  # seq 20 is a checkpoint: seq 21's link is proven
    report = verify(chain.records[21:24], chain.checkpoints, chain.keys, window=True)
    assert report.ok
    assert not report.writers[0].anchored  # past the last checkpoint: unproven, not broken


def test_writers_are_verified_separately() -> None:
    a, b = built(), Chain("test-writer-2").add(7).checkpoint()
    records = copy.deepcopy(a.records) + copy.deepcopy(b.records)
    records[-3]["outcome"] = "caller_error"  # b's seq 5
    report = verify(records, a.checkpoints + b.checkpoints, {**a.keys, **b.keys})
    assert [w.broken is None for w in report.writers] == [True, False]
    assert report.first is not None
    assert (report.first.writer, report.first.seq) == ("test-writer-2", 5)


def test_a_writer_purged_whole_keeps_one_checkpoint() -> None:
    chain = built()
    assert verify([], chain.checkpoints[1:], chain.keys).ok  # checkpoint 20 stays
    first = verify([], chain.checkpoints, chain.keys).first
    assert first is not None
    assert (first.seq, first.kind) == (11, "deleted")
