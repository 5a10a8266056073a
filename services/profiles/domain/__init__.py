"""The profiles domain: accounts and sign-in, the e-mail index, expert applications and their
trustee review, expert profiles, the managed list of categories, and ambassadors with their
referral codes and the experts they referred.

Pure: no I/O, no hashing, no token generation and no clock reads. The application passes in
password hashes, SHA-256 hex digests of tokens (with each mailed-link token sealed for the
notifications service, which alone can open it), the current time (`now`) and configured limits;
events take their timestamps from the injected clock through `headstore.domain.Aggregate`.
Aggregate state holds only str, int, bool, None, UUID, datetime, lists and dicts, so aggregates
can be snapshotted by the library's JSON transcoder.

One module per aggregate, the checks they share in values.py.
"""

from __future__ import annotations

from headstore.topics import register_stable_topics
from services.profiles.domain.account import (
    EMAIL_VERIFICATION_LIFETIME,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PASSWORD_RESET_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    ROLES,
    Account,
    check_new_password,
    check_role,
)
from services.profiles.domain.ambassador import (
    DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS,
    MAX_SHARE_BASIS_POINTS,
    MIN_SHARE_BASIS_POINTS,
    Ambassador,
    ambassador_id,
    check_share_basis_points,
)
from services.profiles.domain.category_list import (
    CATEGORY_LIST_ID,
    MAX_LABEL_LENGTH,
    MAX_SLUG_LENGTH,
    CategoryList,
    check_slug,
)
from services.profiles.domain.email_index import EmailIndex, email_index_id
from services.profiles.domain.expert_application import (
    ACCEPTED,
    DEFAULT_QUORUM,
    MAX_ANSWER_LENGTH,
    MAX_COMMENT_LENGTH,
    REJECTED,
    SIGNUP_LINK_LIFETIME,
    UNDER_REVIEW,
    ExpertApplication,
    check_answers,
)
from services.profiles.domain.expert_profile import (
    AVAILABILITIES,
    BUSY,
    DESCRIPTIVE_FIELDS,
    ISO_639_1,
    MAX_CATEGORIES,
    MAX_COMPANY_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_FREE_MINUTES,
    MAX_JOB_TITLE_LENGTH,
    MAX_LANGUAGES,
    MAX_OFFERING_LENGTH,
    MAX_PHOTO_URL_LENGTH,
    MAX_RATE_MINOR,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MIN_RATE_MINOR,
    OFFLINE,
    ONLINE,
    ExpertProfile,
    check_categories,
    check_languages,
    check_photo_url,
    check_rate,
    check_tags,
    profile_id,
)
from services.profiles.domain.referral_code_index import ReferralCodeIndex, referral_code_index_id
from services.profiles.domain.values import (
    MAX_NAME_LENGTH,
    check_aware,
    check_email,
    check_lifetime,
    check_public_text,
    check_referral_code,
    check_token_digest,
    normalise_email,
)

__all__ = [
    "ACCEPTED",
    "AVAILABILITIES",
    "Account",
    "Ambassador",
    "BUSY",
    "CATEGORY_LIST_ID",
    "CategoryList",
    "DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS",
    "DEFAULT_QUORUM",
    "DESCRIPTIVE_FIELDS",
    "EMAIL_VERIFICATION_LIFETIME",
    "EmailIndex",
    "ExpertApplication",
    "ExpertProfile",
    "ISO_639_1",
    "MAX_ANSWER_LENGTH",
    "MAX_CATEGORIES",
    "MAX_COMMENT_LENGTH",
    "MAX_COMPANY_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_FREE_MINUTES",
    "MAX_JOB_TITLE_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_LANGUAGES",
    "MAX_NAME_LENGTH",
    "MAX_OFFERING_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "MAX_PHOTO_URL_LENGTH",
    "MAX_RATE_MINOR",
    "MAX_SHARE_BASIS_POINTS",
    "MAX_SLUG_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "MIN_RATE_MINOR",
    "MIN_SHARE_BASIS_POINTS",
    "OFFLINE",
    "ONLINE",
    "PASSWORD_RESET_LIFETIME",
    "REFRESH_TOKEN_LIFETIME",
    "REJECTED",
    "ROLES",
    "ReferralCodeIndex",
    "SIGNUP_LINK_LIFETIME",
    "UNDER_REVIEW",
    "ambassador_id",
    "check_answers",
    "check_aware",
    "check_categories",
    "check_email",
    "check_languages",
    "check_lifetime",
    "check_new_password",
    "check_photo_url",
    "check_public_text",
    "check_rate",
    "check_referral_code",
    "check_role",
    "check_share_basis_points",
    "check_slug",
    "check_tags",
    "check_token_digest",
    "email_index_id",
    "normalise_email",
    "profile_id",
    "referral_code_index_id",
]

# Stored as `profiles:Account.Registered` and so on, wherever the classes live; the topics
# stored while they lived in services/profiles/domain.py resolve to the same classes
# (headstore.topics).
register_stable_topics(
    "profiles",
    Account,
    EmailIndex,
    ExpertApplication,
    ExpertProfile,
    CategoryList,
    ReferralCodeIndex,
    Ambassador,
    previous=("services.profiles.domain",),
)
