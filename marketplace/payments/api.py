"""HTTP: fund a job, the Stripe webhook, payout destinations (SIWE wallet, Stripe Connect), books."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from marketplace.bounds import Id
from marketplace.deps import CurrentUser, RequesterUser, SessionDep, SettingsDep, WorkerUser
from marketplace.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    InvalidInput,
    JobNotFundable,
    ServiceUnavailable,
    WrongRail,
    error_responses,
)
from marketplace.flows import funding as funding_flow
from marketplace.jobs import service as jobs
from marketplace.ledger import service as ledger
from marketplace.models import Rail
from marketplace.payments import repository, service, siwe
from marketplace.payments.rails import RailUnavailable, currencies, get_rails
from marketplace.payments.schemas import (
    BooksOut,
    CurrencyOut,
    DestinationOut,
    DevWalletOut,
    EarningsOut,
    FundIn,
    FundOut,
    TestCardOut,
    WalletNonceIn,
    WalletNonceOut,
    WalletVerifyIn,
)
from marketplace.payments.stripe_adapter import CardPayments, CardRailError, WebhookSignatureInvalid
from marketplace.payouts import service as payouts

router = APIRouter(tags=["payments"])


@router.post(
    "/api/jobs/{job_id}/fund",
    response_model=FundOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 502, 503),
)
def fund_job(
    job_id: Id, user: RequesterUser, session: SessionDep, settings: SettingsDep, body: FundIn | None = None
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


@router.post(
    "/api/jobs/{job_id}/fund/dev-wallet",
    response_model=DevWalletOut,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def fund_job_with_dev_wallet(
    job_id: Id, user: RequesterUser, session: SessionDep, settings: SettingsDep
) -> DevWalletOut:
    """Embedded development chain only: pay the bounty from the platform's development wallet (test
    tokens, minted as needed), so a newcomer without a browser wallet can try a job end to end.
    Refused (409 ``dev_wallet_unavailable``) in production and whenever a real chain is configured.
    The vault's ``JobFunded`` log is then read as the periodic poller would, which opens the job."""
    job = jobs.get_job_for(session, user, job_id)
    if job.requester_id != user.id:
        raise Forbidden("only the job's requester pays for it")
    rails = get_rails()
    try:
        result = service.fund_from_dev_wallet(session, job, rails, settings.platform_fee_bps, settings)
        session.commit()  # the funding row is there before its log is read
        funding_flow.poll_chain_funding(session, rails)
    except RailUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    session.refresh(job)
    wallet = rails.dev_wallet
    assert wallet is not None
    return DevWalletOut(
        job_id=job.id,
        wallet=wallet.address,
        amount=str(result.amount),
        approve_tx=result.approve.tx_hash,
        fund_tx=result.fund.tx_hash,
        status=job.status.value,
    )


@router.post(
    "/api/jobs/{job_id}/fund/test-card",
    response_model=TestCardOut,
    responses=error_responses(401, 403, 404, 409, 422, 502, 503),
)
def fund_job_with_test_card(
    job_id: Id, user: RequesterUser, session: SessionDep, settings: SettingsDep
) -> TestCardOut:
    """Local Stripe emulator only: pay the job's PaymentIntent with the test card 4242 4242 4242 4242.

    Refused (409) unless the card rail points at a loopback emulator, so it never exists against real
    Stripe. Nothing is activated here: the emulator is told where our webhook is (as a Stripe dashboard
    would be) and its signed ``payment_intent.succeeded`` event goes through the same signature check
    and inbox as any Stripe event."""
    rails = get_rails()
    card = rails.card
    if card is None:
        raise ServiceUnavailable("the card rail is off: set TILEWORK_STRIPE_SECRET_KEY")
    if not (rails.settings.stripe_emulated and card.emulated):
        raise Conflict("the test card works only against a local Stripe emulator; pay with a real card")
    job = jobs.get_job_for(session, user, job_id)
    if job.requester_id != user.id:
        raise Forbidden("only the job's requester pays for it")
    if job.rail is not Rail.card:
        raise WrongRail(f"job {job.id} is funded on the {job.rail.value} rail, not by card")
    if job.status not in service.FUNDABLE:
        raise JobNotFundable(f"job {job.id} is {job.status.value}; there is nothing to pay")
    secret = rails.settings.stripe_webhook_secret
    if not secret:
        raise ServiceUnavailable("no Stripe webhook secret is configured: a payment could not open the job")
    try:
        out = service.start_funding(session, job, rails, fee_bps=settings.platform_fee_bps)
        if out.payment_intent_id is None:
            raise BadGateway("Stripe emulator returned no PaymentIntent")
        # The funding row must name the PaymentIntent before the emulator's webhook can arrive.
        session.commit()
        card.register_emulator_webhook(
            name=rails.settings.payout_namespace,
            url=f"{settings.public_base_url.rstrip('/')}/api/webhooks/stripe",
            secret=secret,
        )
        pi = card.confirm_with_test_card(out.payment_intent_id)
    except RailUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except CardRailError as exc:
        raise BadGateway(f"Stripe emulator refused: {exc}") from exc
    return TestCardOut(job_id=job.id, payment_intent_id=pi.id, status=pi.status)


@router.get(
    "/api/jobs/{job_id}/books", response_model=BooksOut, responses=error_responses(401, 403, 404, 422)
)
def job_books(job_id: Id, user: RequesterUser, session: SessionDep) -> BooksOut:
    job = jobs.get_job_for(session, user, job_id)
    return _books(session, job.id, job.currency)


def _books(session: SessionDep, job_id: int, currency: str) -> BooksOut:
    b = ledger.job_books(session, job_id)
    sent = payouts.sent_to_workers(session, job_id)
    return BooksOut(
        job_id=job_id,
        currency=currency,
        funded=b.funded,
        fees=b.fees,
        paid=sent,
        sending=b.paid - sent,
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
    except WebhookSignatureInvalid as exc:
        return JSONResponse({"error": "bad_signature", "detail": f"invalid Stripe signature: {exc}"}, 400)
    except ValueError as exc:
        return JSONResponse({"error": "invalid_input", "detail": f"not a Stripe event: {exc}"}, 400)
    try:  # the database work in a worker thread: never on the event loop
        inbox_id = await run_in_threadpool(_store_event, request.app.state.session_factory, event)
    except InvalidInput:
        return JSONResponse({"error": "invalid_input", "detail": "not a Stripe event"}, 400)
    return JSONResponse({"received": True, "duplicate": inbox_id is None})


def _store_event(factory: Any, event: Any) -> int | None:
    """The event into the inbox (None: seen before) and its task enqueued after commit."""
    with factory() as session:
        inbox_id = service.store_stripe_event(session, event)
        if inbox_id is not None:
            service.enqueue_inbox(session, inbox_id)
        session.commit()
    return inbox_id


@router.post(
    "/api/payouts/wallet/nonce",
    response_model=WalletNonceOut,
    responses=error_responses(400, 401, 403, 413, 422, 503),
)
def wallet_nonce(body: WalletNonceIn, user: WorkerUser, session: SessionDep) -> WalletNonceOut:
    """A Sign-In with Ethereum message for this worker and address; sign it with the wallet."""
    rails = get_rails()
    chain_id = rails.settings.chain_id or (int(rails.chain.w3.eth.chain_id) if rails.chain else 1)
    row = siwe.issue(session, user, body.address, rails.settings, chain_id)
    return WalletNonceOut(message=row.message, nonce=row.nonce)


@router.post(
    "/api/payouts/wallet/verify",
    response_model=DestinationOut,
    responses=error_responses(400, 401, 403, 409, 413, 422),
)
def wallet_verify(body: WalletVerifyIn, user: WorkerUser, session: SessionDep) -> DestinationOut:
    dest = siwe.verify_and_link(session, user, body.message, body.signature)
    return DestinationOut(rail=dest.rail, destination=dest.destination, verified=True)


@router.post(
    "/api/payouts/stripe/account",
    response_model=DestinationOut,
    responses=error_responses(401, 403, 502, 503),
)
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


@router.get("/api/payouts/me", response_model=EarningsOut, responses=error_responses(401))
def my_earnings(user: CurrentUser, session: SessionDep) -> EarningsOut:
    return EarningsOut(**payouts.earnings_of(session, user.id))


@router.get("/api/payments/currencies", response_model=list[CurrencyOut], responses=error_responses(401))
def list_currencies(user: CurrentUser) -> list[CurrencyOut]:
    """The money this server takes, per rail, with the decimals amounts are counted in."""
    return [CurrencyOut(**vars(m)) for m in currencies(get_rails())]
