"""The requester's pipeline pages: their pipelines, a new one, and one pipeline's stages, people and
moves. Thin shells like every page: the modules ``pipelines.js``, ``pipeline_new.js`` and
``pipeline.js`` call the pipelines API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from marketplace.bounds import Id
from marketplace.deps import SessionDep
from marketplace.errors import NotFound
from marketplace.models import Role, User
from marketplace.pipelines import service as pipelines
from marketplace.web.pages import JOB_VIEWERS, page, signed_in_as
from marketplace.web.render import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/pipelines", response_class=HTMLResponse)
def my_pipelines(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, JOB_VIEWERS, "requester")
    if not isinstance(user, User):
        return user
    return page("Pipelines", render("pipelines.html"), user=user, current="/pipelines", module="pipelines.js")


@router.get("/pipelines/new", response_class=HTMLResponse)
def new_pipeline(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.requester, Role.admin), "requester")
    if not isinstance(user, User):
        return user
    return page(
        "New pipeline", render("pipeline_new.html"), user=user, current="/pipelines", module="pipeline_new.js"
    )


@router.get("/pipelines/{pipeline_id}", response_class=HTMLResponse)
def pipeline_page(pipeline_id: Id, request: Request, session: SessionDep) -> Response:
    """One pipeline: progress and books per stage, its workers, and (its requester only) the forms
    that move work between a stage's members. Someone else's pipeline is not found, as in the API."""
    user = signed_in_as(request, session, JOB_VIEWERS, "requester")
    if not isinstance(user, User):
        return user
    try:
        pipeline = pipelines.get_pipeline_for(session, user, pipeline_id)
    except NotFound:
        body = render(
            "message.html",
            heading="Pipeline not found",
            message=f"There is no pipeline {pipeline_id} among yours.",
            action_href="/pipelines",
            action_text="Your pipelines",
        )
        return page("Pipeline not found", body, user=user, current="/pipelines", status_code=404)
    can_manage = pipeline.requester_id == user.id and user.role is not Role.reviewer
    return page(
        f"Pipeline {pipeline.id}",
        render("pipeline.html", pipeline_id=pipeline.id),
        user=user,
        current="/pipelines",
        module="pipeline.js",
        config={"pipeline_id": pipeline.id, "can_manage": can_manage},
    )
