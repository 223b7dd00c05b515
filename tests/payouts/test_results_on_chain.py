"""The completion flow puts the exported results' location and hash on the job's vault record."""

from __future__ import annotations

import hashlib

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.escrow.chain import JobStatus as ChainJobStatus
from marketplace.escrow.evm import DevChain
from marketplace.flows import completion
from marketplace.models import Rail
from marketplace.payments.rails import Rails
from marketplace.payouts import repository
from marketplace.quality import export
from marketplace.quality import repository as quality_repo
from tests.payments.paytools import complete_job
from tests.payouts.test_payouts_flow import _accept_all, _drain_all, _setup


def test_export_of_a_completed_chain_job_is_recorded_in_the_vault(
    settings: Settings, rails: Rails, chain: DevChain
) -> None:
    ids = _setup(settings, rails, chain, rail=Rail.chain, workers=2, data_images=4)
    _accept_all(settings, ids, 4)
    with session_scope(session_factory(settings)) as s:
        complete_job(s, repository.job(s, ids["job"]))  # type: ignore[arg-type]
    _drain_all()
    vault = rails.need_chain()
    assert vault.get_job(ids["fund"].chain_job_id).results_hash == b"\0" * 32  # not exported yet

    # The export commits, then its task writes the hash (in-process here: eager, right after commit).
    with session_scope(session_factory(settings)) as s:
        assert export.finalize_job(s, ids["job"], settings)
    with session_scope(session_factory(settings)) as s:
        digest = export.results_digest(s, ids["job"])
        files = sorted(quality_repo.result_files(s, ids["job"]), key=lambda f: f.name)
    info = vault.get_job(ids["fund"].chain_job_id)
    assert info.status is ChainJobStatus.COMPLETED  # closed first; the results came after
    # What the vault holds is recomputable from the listing a requester downloads.
    manifest = "".join(f"{f.name} {f.sha256}\n" for f in files).encode()
    assert digest is not None and info.results_hash == digest == hashlib.sha256(manifest).digest()
    assert info.results_url == f"{settings.public_base_url}/api/jobs/{ids['job']}/results"

    # Asked again (a retried task): the vault already holds it, nothing is sent.
    with session_scope(session_factory(settings)) as s:
        assert completion.record_results(s, rails, ids["job"], settings) == "reconciled"

    # A reviewer's fix re-exports: the vault follows the new files.
    with session_scope(session_factory(settings)) as s:
        rows = [
            {"name": f.name, "storage_key": f.storage_key, "content_type": f.content_type,
             "size_bytes": f.size_bytes, "sha256": hashlib.sha256(f.sha256.encode()).hexdigest()}
            for f in files
        ]  # fmt: skip
        quality_repo.replace_result_files(s, ids["job"], rows)
    with session_scope(session_factory(settings)) as s:
        assert completion.record_results(s, rails, ids["job"], settings) == "sent"
        new_digest = export.results_digest(s, ids["job"])
    assert new_digest != digest and vault.get_job(ids["fund"].chain_job_id).results_hash == new_digest


def test_card_jobs_have_no_vault_record(settings: Settings, rails: Rails, chain: DevChain) -> None:
    ids = _setup(settings, rails, chain, rail=Rail.card, workers=2, data_images=4)
    _accept_all(settings, ids, 4)
    with session_scope(session_factory(settings)) as s:
        complete_job(s, repository.job(s, ids["job"]))  # type: ignore[arg-type]
    with session_scope(session_factory(settings)) as s:
        assert export.finalize_job(s, ids["job"], settings)
    with session_scope(session_factory(settings)) as s:
        assert completion.record_results(s, rails, ids["job"], settings) == "skipped"
