"""The profiles nameko service: gRPC entrypoints that translate requests, call the application
off the eventlet hub, and translate answers. No rules live here."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from nameko.containers import WorkerContext

from contracts.profiles.v1 import profiles_pb2 as api
from contracts.profiles.v1 import profiles_pb2_grpc
from headstore.consumers import consumes
from headstore.dependencies import PARKED_GAUGE_SECONDS, MetricsServer, Provides, Store
from headstore.errors import InvalidInput, parse_id
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.runtime import off_hub
from headstore.settings import Settings
from services.profiles import contract
from services.profiles.application import (
    ExpertSessionEnded,
    ExpertSessionStarted,
    PayoutActivated,
    Processing,
    ProfilesApplication,
)
from services.profiles.contract import profile_fields, rate_of
from services.profiles.directory import SearchQuery, directory_state, start_directory
from services.profiles.domain import (
    Account,
    Ambassador,
    CategoryList,
    ExpertApplication,
    ExpertProfile,
)

log = logging.getLogger(__name__)

grpc = Grpc.implementing(profiles_pb2_grpc.ProfilesServiceStub)
handled = grpc_method("profiles")

# How long a search waits for the directory to show writes made before it (read-your-writes).
DIRECTORY_WAIT_SECONDS = 2.0


class Directory(Provides["Directory"]):
    """Runs the directory projection in threads of its own while the service runs."""

    def setup(self) -> None:
        from eventlet import tpool

        self.runner = tpool.execute(start_directory, Settings.from_env())

    def start(self) -> None:
        self.container.spawn_managed_thread(self._count_parked)

    def _count_parked(self) -> None:
        """Keep the directory's parked-events gauge current (operators replay from elsewhere)."""
        import eventlet
        from eventlet import tpool

        while True:
            try:
                tpool.execute(directory_state, self.runner)
            except Exception:
                log.exception("counting the directory's parked events failed")
            eventlet.sleep(PARKED_GAUGE_SECONDS)

    def stop(self) -> None:
        from eventlet import tpool

        tpool.execute(self.runner.__exit__, None, None, None)

    def get_dependency(self, worker_ctx: WorkerContext) -> Directory:
        return off_hub(self)

    def search(self, head: int | None, query: SearchQuery) -> tuple[list[UUID], int]:
        if head:
            self.runner.wait(head, timeout=DIRECTORY_WAIT_SECONDS)
        ids, total = self.runner.view.search(query)
        return ids, total

    def applications(self, head: int | None, status: str) -> list[UUID]:
        if head:
            self.runner.wait(head, timeout=DIRECTORY_WAIT_SECONDS)
        ids: list[UUID] = self.runner.view.applications(status)
        return ids

    def state(self) -> tuple[str, str]:
        return directory_state(self.runner)


def account_message(account: Account) -> api.Account:
    return api.Account(
        account_id=str(account.id),
        email=account.email,
        name=account.display_name,
        roles=list(account.roles),
        email_verified=account.email_verified,
        payout_active=account.payout_active,
    )


def tokens_message(tokens: dict[str, Any]) -> api.TokensResponse:
    return api.TokensResponse(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_in_seconds=tokens["expires_in_seconds"],
        account=account_message(tokens["account"]),
    )


def profile_message(profile: ExpertProfile) -> api.ExpertProfile:
    return api.ExpertProfile(
        availability=profile.availability,
        rate_per_minute=rate_of(profile),
        **profile_fields(profile),
    )


def application_message(application: ExpertApplication) -> api.Application:
    message = api.Application(
        application_id=str(application.id),
        email=application.email,
        name=application.name,
        answers=[
            api.Answer(question_id=a["question_id"], answer=a["answer"])
            for a in application.answers
        ],
        status=application.status,
        reviews=[
            api.Review(trustee_id=str(r["trustee_id"]), approved=r["approve"], comment=r["comment"])
            for r in application.reviews
        ],
    )
    message.applied_at.FromDatetime(application.created_on)
    return message


def ambassador_message(
    ambassador: Ambassador, referred: list[dict[str, Any]] | None = None
) -> api.Ambassador:
    """`referred`: the entries of `ambassador.referred` with the experts' current names."""
    message = api.Ambassador(
        ambassador_id=str(ambassador.account_id),
        referral_code=ambassador.referral_code,
        share_basis_points=ambassador.share_basis_points,
    )
    message.appointed_at.FromDatetime(ambassador.created_on)
    for entry in ambassador.referred if referred is None else referred:
        expert = message.referred_experts.add(expert_id=str(entry["expert_id"]), name=entry["name"])
        expert.referred_at.FromDatetime(entry["referred_at"])
    return message


def profile_changes(request: api.UpdateExpertProfileRequest) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in (
        "name",
        "photo_url",
        "job_title",
        "company",
        "offering",
        "description",
        "currency",
        "rate_per_minute",
        "free_minutes",
    ):
        if request.HasField(name):
            changes[name] = getattr(request, name)
    for name in ("categories", "tags", "languages"):
        if getattr(request, f"{name}_set"):
            changes[name] = list(getattr(request, name))
    return changes


class ProfilesService(HealthCheck):
    """Accounts, expert applications and profiles over gRPC; busy while in a session."""

    name = "profiles"
    store = Store(ProfilesApplication)
    directory = Directory()
    metrics = MetricsServer(lambda settings: settings.metrics_ports["profiles"])

    def components(self) -> list[tuple[str, str, str]]:
        state, detail = self.directory.state()
        return [*super().components(), ("profiles.directory", state, detail)]

    # -- other services' events (contract.SUBSCRIPTIONS: their queues, streams, translations) --

    @consumes(contract.PAYOUT_ACCOUNT_ACTIVATED)
    def on_payout_account_activated(
        self, app: ProfilesApplication, activated: PayoutActivated, processing: Processing
    ) -> None:
        app.payout_activated(processing, activated)

    @consumes(contract.SESSION_STARTED)
    def on_session_started(
        self, app: ProfilesApplication, started: ExpertSessionStarted, processing: Processing
    ) -> None:
        app.expert_session_started(processing, started)

    @consumes(contract.SESSION_ENDED)
    def on_session_ended(
        self, app: ProfilesApplication, ended: ExpertSessionEnded, processing: Processing
    ) -> None:
        app.expert_session_ended(processing, ended)

    # -- accounts -------------------------------------------------------------------------

    @grpc
    @handled
    def SignUp(  # noqa: N802
        self, request: api.SignUpRequest, context: GrpcContext
    ) -> api.SignUpResponse:
        account_id = self.store.sign_up(request.email, request.password, request.name)
        return api.SignUpResponse(account_id=str(account_id))

    @grpc
    @handled
    def VerifyEmail(  # noqa: N802
        self, request: api.VerifyEmailRequest, context: GrpcContext
    ) -> api.VerifyEmailResponse:
        account_id = self.store.verify_email(request.token)
        return api.VerifyEmailResponse(account_id=str(account_id))

    @grpc
    @handled
    def ResendVerification(  # noqa: N802
        self, request: api.ResendVerificationRequest, context: GrpcContext
    ) -> api.ResendVerificationResponse:
        self.store.resend_verification(parse_id(request.account_id, "account_id"))
        return api.ResendVerificationResponse()

    @grpc
    @handled
    def LogIn(  # noqa: N802
        self, request: api.LogInRequest, context: GrpcContext
    ) -> api.TokensResponse:
        return tokens_message(self.store.log_in(request.email, request.password))

    @grpc
    @handled
    def RefreshTokens(  # noqa: N802
        self, request: api.RefreshTokensRequest, context: GrpcContext
    ) -> api.TokensResponse:
        return tokens_message(self.store.refresh_tokens(request.refresh_token))

    @grpc
    @handled
    def LogOut(  # noqa: N802
        self, request: api.LogOutRequest, context: GrpcContext
    ) -> api.LogOutResponse:
        self.store.log_out(request.refresh_token)
        return api.LogOutResponse()

    @grpc
    @handled
    def ChangePassword(  # noqa: N802
        self, request: api.ChangePasswordRequest, context: GrpcContext
    ) -> api.ChangePasswordResponse:
        self.store.change_password(
            parse_id(request.account_id, "account_id"),
            request.current_password,
            request.new_password,
        )
        return api.ChangePasswordResponse()

    @grpc
    @handled
    def RequestPasswordReset(  # noqa: N802
        self, request: api.RequestPasswordResetRequest, context: GrpcContext
    ) -> api.RequestPasswordResetResponse:
        self.store.request_password_reset(request.email)
        return api.RequestPasswordResetResponse()

    @grpc
    @handled
    def ResetPassword(  # noqa: N802
        self, request: api.ResetPasswordRequest, context: GrpcContext
    ) -> api.ResetPasswordResponse:
        self.store.reset_password(request.token, request.new_password)
        return api.ResetPasswordResponse()

    @grpc
    @handled
    def GetAccount(  # noqa: N802
        self, request: api.GetAccountRequest, context: GrpcContext
    ) -> api.Account:
        return account_message(self.store.account(parse_id(request.account_id, "account_id")))

    @grpc
    @handled
    def GetAccessState(  # noqa: N802
        self, request: api.GetAccessStateRequest, context: GrpcContext
    ) -> api.AccessState:
        """What the gateway checks each access token against."""
        account = self.store.account(parse_id(request.account_id, "account_id"))
        return api.AccessState(
            account_id=str(account.id),
            credentials_version=account.credentials_version,
            roles=list(account.roles),
            email_verified=account.email_verified,
        )

    @grpc
    @handled
    def GrantRole(  # noqa: N802
        self, request: api.GrantRoleRequest, context: GrpcContext
    ) -> api.Account:
        account = self.store.grant_role(
            parse_id(request.admin_id, "admin_id"),
            parse_id(request.account_id, "account_id"),
            request.role,
        )
        return account_message(account)

    # -- becoming an expert ----------------------------------------------------------------

    @grpc
    @handled
    def GetAssessment(  # noqa: N802
        self, request: api.GetAssessmentRequest, context: GrpcContext
    ) -> api.Assessment:
        config = self.store.config
        return api.Assessment(
            questions=[
                api.AssessmentQuestion(question_id=qid, text=text) for qid, text in config.questions
            ],
            approvals_needed=config.quorum,
        )

    @grpc
    @handled
    def ApplyAsExpert(  # noqa: N802
        self, request: api.ApplyAsExpertRequest, context: GrpcContext
    ) -> api.ApplyAsExpertResponse:
        application_id = self.store.apply_as_expert(
            parse_id(request.applicant_id, "applicant_id"),
            request.name,
            [{"question_id": a.question_id, "answer": a.answer} for a in request.answers],
            request.referral_code,
        )
        return api.ApplyAsExpertResponse(application_id=str(application_id))

    @grpc
    @handled
    def ListApplications(  # noqa: N802
        self, request: api.ListApplicationsRequest, context: GrpcContext
    ) -> api.ListApplicationsResponse:
        self.store._check_role(parse_id(request.trustee_id, "trustee_id"), "trustee")
        status = request.status or "pending"
        if status not in ("pending", "accepted", "rejected", "all"):
            raise InvalidInput(
                "invalid_status", "Status is pending, accepted, rejected or all.", "status"
            )
        ids = self.directory.applications(self.store.head(), status)
        return api.ListApplicationsResponse(
            applications=[application_message(self.store.application(i)) for i in ids]
        )

    @grpc
    @handled
    def ReviewApplication(  # noqa: N802
        self, request: api.ReviewApplicationRequest, context: GrpcContext
    ) -> api.Application:
        application = self.store.review_application(
            parse_id(request.trustee_id, "trustee_id"),
            parse_id(request.application_id, "application_id"),
            request.approve,
            request.comment,
        )
        return application_message(application)

    @grpc
    @handled
    def CompleteExpertSignup(  # noqa: N802
        self, request: api.CompleteExpertSignupRequest, context: GrpcContext
    ) -> api.TokensResponse:
        return tokens_message(
            self.store.complete_expert_signup(request.signup_token, request.password)
        )

    # -- profiles and the directory ---------------------------------------------------------

    @grpc
    @handled
    def ListCategories(  # noqa: N802
        self, request: api.ListCategoriesRequest, context: GrpcContext
    ) -> api.ListCategoriesResponse:
        return self._categories(self.store.categories())

    @grpc
    @handled
    def AddCategory(  # noqa: N802
        self, request: api.AddCategoryRequest, context: GrpcContext
    ) -> api.ListCategoriesResponse:
        return self._categories(
            self.store.add_category(
                parse_id(request.admin_id, "admin_id"), request.slug, request.label
            )
        )

    @staticmethod
    def _categories(categories: CategoryList) -> api.ListCategoriesResponse:
        return api.ListCategoriesResponse(
            categories=[
                api.Category(slug=slug, label=categories.label_of(slug))
                for slug in categories.active_slugs
            ]
        )

    @grpc
    @handled
    def UpdateExpertProfile(  # noqa: N802
        self, request: api.UpdateExpertProfileRequest, context: GrpcContext
    ) -> api.ExpertProfile:
        profile = self.store.update_expert_profile(
            parse_id(request.expert_id, "expert_id"), profile_changes(request)
        )
        return profile_message(profile)

    @grpc
    @handled
    def SetAvailability(  # noqa: N802
        self, request: api.SetAvailabilityRequest, context: GrpcContext
    ) -> api.ExpertProfile:
        profile = self.store.set_availability(
            parse_id(request.expert_id, "expert_id"), request.online
        )
        return profile_message(profile)

    @grpc
    @handled
    def GetExpertProfile(  # noqa: N802
        self, request: api.GetExpertProfileRequest, context: GrpcContext
    ) -> api.ExpertProfile:
        return profile_message(self.store.expert_profile(parse_id(request.expert_id, "expert_id")))

    @grpc
    @handled
    def SearchExperts(  # noqa: N802
        self, request: api.SearchExpertsRequest, context: GrpcContext
    ) -> api.SearchExpertsResponse:
        query = SearchQuery(
            text=request.query,
            category=request.category,
            tag=request.tag,
            language=request.language,
            currency=request.currency,
            min_rate=request.min_rate if request.HasField("min_rate") else None,
            max_rate=request.max_rate if request.HasField("max_rate") else None,
            availability=request.availability,
            sort=request.sort or "relevance",
            page=request.page or 1,
            page_size=request.page_size or 20,
        ).checked()
        ids, total = self.directory.search(self.store.head(), query)
        return api.SearchExpertsResponse(
            experts=[profile_message(self.store.expert_profile(i)) for i in ids],
            total=total,
            page=query.page,
            page_size=query.page_size,
        )

    # -- ambassadors ------------------------------------------------------------------------

    @grpc
    @handled
    def AppointAmbassador(  # noqa: N802
        self, request: api.AppointAmbassadorRequest, context: GrpcContext
    ) -> api.Ambassador:
        ambassador = self.store.appoint_ambassador(
            parse_id(request.admin_id, "admin_id"),
            parse_id(request.account_id, "account_id"),
            request.share_basis_points if request.HasField("share_basis_points") else None,
        )
        return ambassador_message(ambassador)

    @grpc
    @handled
    def GetAmbassador(  # noqa: N802
        self, request: api.GetAmbassadorRequest, context: GrpcContext
    ) -> api.Ambassador:
        ambassador = self.store.ambassador(parse_id(request.ambassador_id, "ambassador_id"))
        return ambassador_message(ambassador, self.store.referred_experts(ambassador))
