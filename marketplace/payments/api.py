"""HTTP: fund a job, the Stripe webhook, payout destinations (SIWE wallet, Stripe Connect), books."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from marketplace.deps import CurrentUser, RequesterUser, SessionDep, SettingsDep, WorkerUser
from marketplace.errors import BadGateway, InvalidInput, ServiceUnavailable
from marketplace.jobs import service as jobs
from marketplace.ledger import service as ledger
from marketplace.models import Rail
from marketplace.payments import repository, service, siwe
from marketplace.payments.rails import RailUnavailable, get_rails
from marketplace.payments.schemas import (
    BooksOut,
    DestinationOut,
    EarningsOut,
    FundIn,
    FundOut,
    WalletNonceIn,
    WalletNonceOut,
    WalletVerifyIn,
)
from marketplace.payments.stripe_adapter import CardPayments, CardRailError, WebhookSignatureInvalid
from marketplace.payouts import service as payouts

router = APIRouter(tags=["payments"])


@router.post("/api/jobs/{job_id}/fund", response_model=FundOut)
def fund_job(
    job_id: int, user: RequesterUser, session: SessionDep, settings: SettingsDep, body: FundIn | None = None
) -> FundOut:
    """Start funding: a card PaymentIntent's client secret, or what the wallet must send on chain."""
    job = jobs.get_job_for(session, user, job_id)
    try:
        out = service.start_funding(
            session,
            job,
            get_rails(),
            fee_bps=settings.platform_fee_bps,
            schedule=body.payout_schedule if body else None,
        )
    except RailUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except CardRailError as exc:
        raise BadGateway(f"Stripe refused: {exc}") from exc
    return FundOut(**out.__dict__)


@router.get("/api/jobs/{job_id}/books", response_model=BooksOut)
def job_books(job_id: int, user: RequesterUser, session: SessionDep) -> BooksOut:
    job = jobs.get_job_for(session, user, job_id)
    return _books(session, job.id, job.currency)


def _books(session: SessionDep, job_id: int, currency: str) -> BooksOut:
    b = ledger.job_books(session, job_id)
    return BooksOut(
        job_id=job_id,
        currency=currency,
        funded=b.funded,
        fees=b.fees,
        paid=b.paid,
        refunded=b.refunded,
        held=b.held,
        unearned=b.unearned,
        payable=b.payable,
    )


@router.post("/api/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> JSONResponse:
    """Verify the signature, store the event in the inbox keyed by its id, answer at once; the event
    is applied after commit by a task (once: a replay finds its id and changes nothing)."""
    rails = get_rails()
    secret = rails.settings.stripe_webhook_secret
    if not secret:
        return JSONResponse({"error": "rail_unavailable", "detail": "no webhook secret configured"}, 503)
    payload = await request.body()
    try:
        event = CardPayments.verify_webhook(
            payload,
            request.headers.get("stripe-signature"),
            secret,
            rails.settings.stripe_webhook_tolerance_s,
        )
    except (WebhookSignatureInvalid, ValueError):
        return JSONResponse({"error": "bad_signature", "detail": "invalid Stripe signature"}, 400)
    factory = request.app.state.session_factory
    with factory() as session:
        try:
            inbox_id = service.store_stripe_event(session, event)
        except InvalidInput:
            return JSONResponse({"error": "invalid_input", "detail": "not a Stripe event"}, 400)
        if inbox_id is not None:
            service.enqueue_inbox(session, inbox_id)
        session.commit()
    return JSONResponse({"received": True, "duplicate": inbox_id is None})


@router.post("/api/payouts/wallet/nonce", response_model=WalletNonceOut)
def wallet_nonce(body: WalletNonceIn, user: WorkerUser, session: SessionDep) -> WalletNonceOut:
    """A Sign-In with Ethereum message for this worker and address; sign it with the wallet."""
    rails = get_rails()
    chain_id = rails.settings.chain_id or (int(rails.chain.w3.eth.chain_id) if rails.chain else 1)
    row = siwe.issue(session, user, body.address, rails.settings, chain_id)
    return WalletNonceOut(message=row.message, nonce=row.nonce)


@router.post("/api/payouts/wallet/verify", response_model=DestinationOut)
def wallet_verify(body: WalletVerifyIn, user: WorkerUser, session: SessionDep) -> DestinationOut:
    dest = siwe.verify_and_link(session, user, body.message, body.signature)
    return DestinationOut(rail=dest.rail, destination=dest.destination, verified=True)


@router.post("/api/payouts/stripe/account", response_model=DestinationOut)
def stripe_account(user: WorkerUser, session: SessionDep, settings: SettingsDep) -> DestinationOut:
    """Create (or reuse) the worker's Connect account and return an onboarding link."""
    rails = get_rails()
    try:
        connect = rails.need_connect()
        dest = repository.destination(session, user.id, Rail.card.value)
        if dest is None:
            account = connect.create_account(
                email=user.email, idempotency_key=f"{rails.settings.payout_namespace}:account:{user.id}"
            )
            from marketplace.models import PayoutDestination

            dest = PayoutDestination(user_id=user.id, rail=Rail.card, destination=account)
            repository.add(session, dest)
        if dest.verified_at is None and connect.account_ready(dest.destination):
            from marketplace.models import utcnow

            dest.verified_at = utcnow()
        url = connect.onboarding_link(
            dest.destination,
            refresh_url=f"{settings.public_base_url}/worker/payouts",
            return_url=f"{settings.public_base_url}/worker/payouts",
        )
    except RailUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except CardRailError as exc:
        raise BadGateway(f"Stripe refused: {exc}") from exc
    return DestinationOut(
        rail=Rail.card,
        destination=dest.destination,
        verified=dest.verified_at is not None,
        onboarding_url=url,
    )


@router.get("/api/payouts/me", response_model=EarningsOut)
def my_earnings(user: CurrentUser, session: SessionDep) -> EarningsOut:
    return EarningsOut(paid=payouts.earnings_of(session, user.id))
