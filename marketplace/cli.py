"""The ``tilework`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from marketplace.config import get_settings
from marketplace.errors import TileworkError
from marketplace.progress import Progress

TOKEN_HELP = "API token (or set TILEWORK_TOKEN); get one with 'tilework login'"


def _fail(exc: TileworkError) -> None:
    click.echo(f"error: {exc.detail}", err=True)
    sys.exit(2 if exc.status_code < 500 else 1)


def _database_problem(exc: Any) -> str:
    """What to do about a database error the command cannot go on from (said instead of a traceback):
    ``exc`` is SQLAlchemy's wrapper, ``exc.orig`` the driver's error."""
    lines = str(exc.orig).strip().splitlines()
    reason = lines[0] if lines else type(exc.orig).__name__
    where = get_settings().effective_database_url.rpartition("@")[2]  # never the credentials
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return f"the database {where} has no Tilework tables yet ({reason}): run `tilework db upgrade` first"
    return f"cannot use the database {where}: {reason} (check DATABASE_URL and that the database is up)"


class ErrorReportingGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except TileworkError as exc:
            _fail(exc)
        except (OperationalError, ProgrammingError) as exc:
            click.echo(f"error: {_database_problem(exc)}", err=True)
            sys.exit(1)


@click.group(cls=ErrorReportingGroup)
@click.version_option(package_name="tilework")
def main() -> None:
    """Tilework: crowdsourced image annotation with hidden ground truth and escrowed pay."""


# -- server and database -------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="bind address (default from TILEWORK_HOST, 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default from TILEWORK_PORT, 8000)")
@click.option("--migrate/--no-migrate", default=True, help="apply database migrations first")
@click.option(
    "--check/--no-check",
    "run_check",
    default=None,
    help="refuse to start unless `tilework check` passes (default: on in production)",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="API processes under uvicorn's supervisor, which replaces one that dies "
    "(default from TILEWORK_WEB_WORKERS; 2+ in production, 1 with embedded parts)",
)
def serve(
    host: str | None, port: int | None, migrate: bool, run_check: bool | None, workers: int | None
) -> None:
    """Run the web app and API (embedded defaults when nothing is configured)."""
    import uvicorn

    settings = get_settings()
    count = workers or settings.effective_web_workers
    if count > 1 and (settings.background_in_process or settings.chain_rpc_url is None):
        raise click.UsageError(
            "several API processes need REDIS_URL and TILEWORK_CHAIN_RPC_URL (in-process background "
            "work and the in-process EVM live inside one process); set them, or run --workers 1"
        )
    if migrate:
        _upgrade_database()
    if run_check if run_check is not None else settings.environment == "production":
        _refuse_misconfiguration(settings)
    from marketplace.telemetry.logs import configure_logging

    configure_logging(settings.effective_log_format, settings.log_level)
    if count > 1:
        _share_metrics_between_processes(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    click.echo(f"Tilework on http://{bind_host}:{bind_port}  (docs at /docs, {count} process(es))")
    beat = _start_inprocess_beat() if settings.background_in_process else None
    try:
        if count > 1:
            # The supervisor restarts a worker that exits or stops answering its health pings.
            uvicorn.run(
                "marketplace.app:create_app",
                factory=True,
                host=bind_host,
                port=bind_port,
                workers=count,
                log_config=None,  # the processes log as configure_logging says (JSON in production)
                access_log=False,  # the app writes its own access line, with the request id
            )
        else:
            from marketplace.app import create_app

            uvicorn.run(
                create_app(settings), host=bind_host, port=bind_port, log_config=None, access_log=False
            )
    finally:
        if beat is not None:
            beat.stop()


def _share_metrics_between_processes(settings: Any) -> None:
    """Several API processes: prometheus-client's multiprocess mode, in a fresh folder unless
    ``PROMETHEUS_MULTIPROC_DIR`` names one, so every scrape of ``/metrics`` adds them all up."""
    import tempfile

    from marketplace.telemetry.metrics import MULTIPROC_ENV

    if not os.environ.get(MULTIPROC_ENV):
        settings.ensure_home()
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="metrics-", dir=settings.home)


def _refuse_misconfiguration(settings: Any) -> None:
    from marketplace.cli_ops import run_checks
    from marketplace.errors import Misconfigured
    from marketplace.ops.checks import problems

    wrong = problems(run_checks(settings))
    if wrong:
        for finding in wrong:
            click.echo(finding.line(), err=True)
        codes = ", ".join(f.code for f in wrong)
        raise Misconfigured(f"not starting: {codes} (see `tilework check`)", extra={"problems": codes})


def _start_inprocess_beat() -> Any:
    """Without a broker, periodic tasks (expiry, chain polling, payouts) run on a thread here."""
    from workers.celery_app import celery_app
    from workers.inprocess import InProcessBeat

    return InProcessBeat(celery_app).start()


def _upgrade_database() -> None:
    from marketplace.migrations import upgrade

    settings = get_settings()
    settings.ensure_home()
    upgrade(settings.effective_database_url)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from marketplace.migrations import upgrade

    settings = get_settings()
    settings.ensure_home()
    upgrade(settings.effective_database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from marketplace.migrations import downgrade

    downgrade(get_settings().effective_database_url, revision)
    click.echo(f"database at {revision}")


# -- accounts ------------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Accounts (operator commands: they talk to the database directly)."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--role", type=click.Choice(["requester", "worker", "reviewer", "admin"]), required=True)
@click.option("--name", "display_name", default="")
@click.option("--token/--no-token", default=True, help="also print an API token for scripts")
def user_create(email: str, password: str, role: str, display_name: str, token: bool) -> None:
    from marketplace.accounts import service
    from marketplace.db import session_factory, session_scope
    from marketplace.models import Role

    _upgrade_database()
    settings = get_settings()
    with session_scope(session_factory(settings)) as session:
        account = service.register(
            session, email=email, password=password, role=Role(role), display_name=display_name
        )
        secret = service.issue_token(session, account, name="cli", ttl_days=settings.token_ttl_days)[0]
    click.echo(f"created {role} {account.email} (id {account.id})")
    if token:
        click.echo(f"token: {secret}")


@main.command()
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
def login(email: str, password: str) -> None:
    """Print a fresh API token for an account."""
    from marketplace.accounts import service
    from marketplace.db import session_factory, session_scope

    settings = get_settings()
    with session_scope(session_factory(settings)) as session:
        account = service.authenticate(session, email, password)
        secret = service.issue_token(session, account, name="cli", ttl_days=settings.token_ttl_days)[0]
    click.echo(secret)


# -- jobs ----------------------------------------------------------------------------------------


@main.group()
def job() -> None:
    """Create and manage annotation jobs."""


def _token(value: str | None) -> str:
    token = value or os.environ.get("TILEWORK_TOKEN")
    if not token:
        raise click.UsageError("give --token or set TILEWORK_TOKEN")
    return token


class PhaseBars:
    """One progress bar per intake phase (listing has no known total; checking has one)."""

    def __init__(self) -> None:
        self.bars: dict[str, Progress] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = Progress(f"{phase:>9}", total=total, unit="img")
        if total is not None and bar.total != total:
            bar.set_total(total)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@job.command("create")
@click.option("--token", default=None, help=TOKEN_HELP)
@click.option(
    "--type",
    "job_type",
    type=click.Choice(["boxes", "points", "polygons", "classification", "video_boxes", "video_polygons"]),
    required=True,
)
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--labels", required=True, help="comma-separated labels (must equal the GT categories)")
@click.option("--data", "data_uri", required=True, help="local folder or s3://bucket/prefix")
@click.option(
    "--gt",
    "gt_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="COCO JSON (image jobs); for video jobs optional, {video: {tracks, frames} or {mot}}",
)
@click.option("--guide-url", default=None)
@click.option("--target", "accuracy_target", type=float, default=0.8, show_default=True)
@click.option("--iou", "iou_threshold", type=float, default=0.5, show_default=True)
@click.option("--point-tolerance", type=float, default=0.1, show_default=True)
@click.option("--bounty", "bounty_amount", type=int, required=True, help="integer cents or token base units")
@click.option("--currency", required=True)
@click.option("--rail", type=click.Choice(["chain", "card"]), required=True)
@click.option("--assignment-size", type=int, default=10, show_default=True)
@click.option("--gt-per-assignment", type=int, default=None, help="[default: 2; video jobs: 0]")
@click.option("--time-limit", "time_limit_s", type=int, default=1800, show_default=True, help="seconds")
@click.option("--overlap", type=int, default=1, show_default=True)
@click.option("--max-attempts", type=int, default=3, show_default=True)
@click.option(
    "--segment-frames", type=int, default=None, help="video jobs: frames per segment [default: 150]"
)
@click.option(
    "--segment-overlap", type=int, default=None, help="video jobs: frames neighbours share [default: 5]"
)
@click.option("--json", "as_json", is_flag=True, help="print the job as JSON")
def job_create(
    token: str | None, gt_path: Path | None, data_uri: str, as_json: bool, labels: str, **fields: Any
) -> None:
    """Create a draft job; the data is listed and checked here, with a progress bar."""
    from pydantic import ValidationError

    from marketplace.datasets import sources
    from marketplace.db import session_factory, session_scope
    from marketplace.jobs import service
    from marketplace.jobs.schemas import JobOut, JobSpec

    settings = get_settings()
    try:
        fields["type"] = fields.pop("job_type")
        video = fields["type"].startswith("video_")
        if fields["gt_per_assignment"] is None:
            fields["gt_per_assignment"] = 0 if video else 2
        if gt_path is None and not video:
            raise click.BadParameter("--gt is required for image jobs", param_hint="--gt")
        spec = JobSpec(labels=[s for s in labels.split(",") if s.strip()], **fields)
    except ValidationError as exc:
        raise click.BadParameter("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from exc
    if not data_uri.startswith("s3://"):
        data_uri = str(Path(data_uri).expanduser().resolve())
    bars = PhaseBars()
    with session_scope(session_factory(settings)) as session:
        requester = _requester(session, _token(token))
        storage = sources.open_job_data(session, data_uri, settings, owner=None)
        try:
            created = service.create_job(
                session,
                requester,
                spec,
                data_uri=data_uri,
                storage=storage,
                gt_raw=gt_path.read_bytes() if gt_path is not None else b"",
                settings=settings,
                progress=bars,
            )
        finally:
            bars.close()
        out = JobOut.model_validate(created)
    _print_job(out.model_dump(mode="json"), as_json)


def _requester(session: Any, token: str) -> Any:
    from marketplace.accounts.service import user_for_token
    from marketplace.errors import Forbidden
    from marketplace.models import Role

    account = user_for_token(session, token)
    if account.role not in (Role.requester, Role.admin):
        raise Forbidden(f"creating jobs needs a requester account; this token is a {account.role.value}'s")
    return account


def _print_job(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"job {data['id']} [{data['status']}] {data['title']!r}: {data['type']}, "
        f"{data['image_count']} images ({data['gt_count']} GT), bounty {data['bounty_amount']} "
        f"{data['currency']} via {data['rail']}"
    )
    if data["status"] == "ingesting":
        click.echo(f"  preparing images: {data['ingested_count']}/{data['image_count']}")
    for error in data.get("ingest_errors") or []:
        click.echo(f"  cannot be used: {error['name']}: {error['reason']}")


@job.command("list")
@click.option("--token", default=None, help=TOKEN_HELP)
@click.option("--json", "as_json", is_flag=True)
def job_list(token: str | None, as_json: bool) -> None:
    """List your jobs."""
    from marketplace.accounts.service import user_for_token
    from marketplace.db import session_factory, session_scope
    from marketplace.jobs import service
    from marketplace.jobs.schemas import JobOut

    with session_scope(session_factory(get_settings())) as session:
        account = user_for_token(session, _token(token))
        rows = service.list_jobs_for(session, account)
        jobs = [JobOut.model_validate(j).model_dump(mode="json") for j in rows]
    if as_json:
        click.echo(json.dumps(jobs, indent=2))
    for data in [] if as_json else jobs:
        _print_job(data, False)


@job.command("show")
@click.argument("job_id", type=int)
@click.option("--token", default=None, help=TOKEN_HELP)
def job_show(job_id: int, token: str | None) -> None:
    """Show one job as JSON."""
    from marketplace.accounts.service import user_for_token
    from marketplace.db import session_factory, session_scope
    from marketplace.jobs import service
    from marketplace.jobs.schemas import JobOut

    with session_scope(session_factory(get_settings())) as session:
        account = user_for_token(session, _token(token))
        data = JobOut.model_validate(service.get_job_for(session, account, job_id)).model_dump(mode="json")
    _print_job(data, True)


@job.command("ingest")
@click.argument("job_id", type=int)
@click.option("--token", default=None, help=TOKEN_HELP)
def job_ingest(job_id: int, token: str | None) -> None:
    """Make (or resume) the serving renditions of a job being activated, here, with a progress bar.

    The background task does the same work when the job is funded; this runs it in the foreground
    (a long ingest, a worker that was down). Safe beside the task: images already done are skipped.
    On a job that is already open (activated before renditions existed) it adds the missing ones."""
    from marketplace.db import session_factory, session_scope
    from marketplace.flows.activation import run_ingest
    from marketplace.jobs import service
    from marketplace.jobs.schemas import JobOut

    settings = get_settings()
    factory = session_factory(settings)
    with session_scope(factory) as session:
        account = _requester(session, _token(token))
        found = service.get_job_for(session, account, job_id)
        if found.status.value not in ("ingesting", "active", "validating"):
            raise click.ClickException(f"job {job_id} is {found.status.value}: it has nothing to ingest")
    bar = Progress("ingesting", total=None, unit="img")

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.set_total(total)
        bar.update(done - bar.n)

    try:
        run_ingest(factory, settings, job_id, progress)
    finally:
        bar.close()
    with session_scope(factory) as session:
        data = JobOut.model_validate(service.get_job_for(session, account, job_id)).model_dump(mode="json")
    _print_job(data, False)
    if data["status"] == "failed":
        raise SystemExit(1)


@job.command("cancel")
@click.argument("job_id", type=int)
@click.option("--token", default=None, help=TOKEN_HELP)
def job_cancel(job_id: int, token: str | None) -> None:
    """Cancel a draft or unfunded job."""
    from marketplace.db import session_factory, session_scope
    from marketplace.jobs import service

    with session_scope(session_factory(get_settings())) as session:
        account = _requester(session, _token(token))
        cancelled = service.cancel_job(session, account, job_id)
    click.echo(f"job {cancelled.id} cancelled")


@job.command("results")
@click.argument("job_id", type=int)
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--token", default=None, help=TOKEN_HELP)
def job_results(job_id: int, out_dir: Path, token: str | None) -> None:
    """Download a completed job's results (COCO / CSV, interactions) into a folder."""
    from marketplace.db import session_factory, session_scope
    from marketplace.quality import export

    settings = get_settings()
    with session_scope(session_factory(settings)) as session:
        account = _requester(session, _token(token))
        files = export.result_files_for(session, account, job_id, settings)
        blobs = {
            f["name"]: export.read_result(session, account, job_id, f["name"], settings)[0] for f in files
        }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in blobs.items():
        (out_dir / name).write_bytes(data)
        click.echo(f"{out_dir / name} ({len(data)} bytes)")


# -- demo ----------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--images", default=60, show_default=True, help="rendered scenes (or, with --tiled, at most this many)"
)
@click.option("--workers", default=12, show_default=True, help="simulated workers")
@click.option("--overlap", default=1, show_default=True, help="workers per image")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--coco", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="COCO instances file"
)
@click.option("--images-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="the images of --coco")  # fmt: skip
@click.option("--tiled", "tiled_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="a folder of images for a tiled yes/no job")  # fmt: skip
@click.option(
    "--answers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV for --tiled: first column the image name, --answer-column the yes/no answer",
)
@click.option("--answer-column", default="label", show_default=True)
@click.option("--serve", is_flag=True, help="keep the web app up afterwards to look around")
@click.option("--port", default=0, type=int, help="port for the app (default: a free one, 8000 with --serve)")
@click.option("--pipeline", is_flag=True,
              help="a multi-stage pipeline: two annotate stages, then QA with issues and fixes")  # fmt: skip
def demo(
    images: int, workers: int, overlap: int, seed: int, coco: Path | None, images_dir: Path | None,
    tiled_dir: Path | None, answers: Path | None, answer_column: str, serve: bool, port: int,
    pipeline: bool,
) -> None:  # fmt: skip
    """Run the main job end to end on embedded defaults with a simulated crowd, then report."""
    from marketplace.demo.report import print_report
    from marketplace.demo.run import DemoOptions, run_demo

    if pipeline:
        from marketplace.demo.pipeline import print_pipeline_report, run_pipeline_demo

        if coco or tiled_dir or serve:
            raise click.UsageError("--pipeline runs on rendered scenes; it takes --images, --workers, --seed")
        result = run_pipeline_demo(DemoOptions(images=images, workers=workers, seed=seed, port=port))
        print_pipeline_report(result)
        click.echo(json.dumps(result, sort_keys=True))
        return

    if bool(coco) != bool(images_dir):
        raise click.UsageError("--coco and --images-dir go together")
    if bool(tiled_dir) != bool(answers):
        raise click.UsageError("--tiled and --answers go together")
    options = DemoOptions(
        images=images, workers=workers, overlap=overlap, seed=seed, serve=serve,
        port=port or (8000 if serve else 0), coco=coco, images_dir=images_dir, tiled_dir=tiled_dir,
        answers=answers, answer_column=answer_column,
    )  # fmt: skip
    report = run_demo(options)
    print_report(report)
    if serve:
        who = report["sign_in"]
        click.echo(
            f"The app is still up at {report['serving']} (Ctrl+C to stop). Sign in with password "
            f"{who['password']!r} as {who['requester']} (requester), {who['reviewer']} (reviewer) "
            f"or a worker such as {who['workers'][0]}.",
            err=True,
        )
        _wait_forever()
    click.echo(json.dumps(report, sort_keys=True))


def _wait_forever() -> None:
    import time

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


from marketplace.cli_ops import COMMANDS as OPS_COMMANDS  # noqa: E402  (check, storage, chain)

for _command in OPS_COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
