"""Generate the IAM role trust policy (and the OIDC provider to register) for a CI job.

What ``ecr-ci trust-policy`` prints. Exact values go under ``StringEquals``; ``StringLike`` is used only for a
value that really contains a wildcard (``*`` or ``?``), because ``StringEquals`` compares an asterisk literally.
Every policy constrains both ``<provider>:aud`` and ``<provider>:sub``: a role that only checks the audience can be
assumed by any repository on a shared issuer such as github.com or gitlab.com.

Subject formats (from each platform's documentation):

* GitHub: ``repo:OWNER/REPO:ref:refs/heads/BRANCH``, ``…:ref:refs/tags/TAG``, ``…:environment:NAME``,
  ``…:pull_request``; ``:`` inside a value is sent as ``%3A``; repositories with immutable subjects use
  ``repo:OWNER@OWNER_ID/REPO@REPO_ID:…``.
* GitLab: ``project_path:GROUP/PROJECT:ref_type:branch|tag:ref:NAME``.
* Jenkins (oidc-provider plugin): the job URL (``https://jenkins.example.com/job/app/``); the issuer is
  ``<Jenkins URL>oidc`` (or ``…/oidc/job/<folder>`` for a folder's credentials).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ecr_ci.diagnostics.claims import GITHUB_HOST, STS_AUDIENCE, STS_AUDIENCE_CN, provider_name
from ecr_ci.errors import ConfigError

GITHUB_ISSUER = f"https://{GITHUB_HOST}"
GITLAB_HOST = "gitlab.com"
ACTION = "sts:AssumeRoleWithWebIdentity"
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
CIS = ("github", "gitlab", "jenkins")

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = r"[A-Za-z0-9._*?-]{1,100}"
_GITLAB_SEGMENT = r"[A-Za-z0-9_.*?][A-Za-z0-9_.*?-]*"


@dataclass(frozen=True)
class TrustSetup:
    """Everything to set up on the AWS side for one CI identity: the provider to register and the role's trust
    policy. ``notes`` are short remarks for the person running the command."""

    ci: str
    provider_url: str
    audience: str
    provider_arn: str
    policy: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    @property
    def provider(self) -> str:
        """The provider name that prefixes the condition keys (``token.actions.githubusercontent.com``)."""
        return provider_name(self.provider_url)


def audience(partition: str = "aws") -> str:
    """The audience to request and register: ``sts.amazonaws.com.cn`` in China, ``sts.amazonaws.com`` elsewhere."""
    _check_partition(partition)
    return STS_AUDIENCE_CN if partition == "aws-cn" else STS_AUDIENCE


def provider_url(
    ci: str,
    *,
    host: str | None = None,
    enterprise: str | None = None,
    issuer: str | None = None,
) -> str:
    """The issuer URL to register as the IAM OIDC provider's URL.

    GitHub: ``https://token.actions.githubusercontent.com``, ``…/<enterprise slug>`` for an enterprise with a
    unique issuer, or ``https://<host>/_services/token`` for GitHub Enterprise Server. GitLab: ``https://<host>``
    (default gitlab.com). Jenkins: ``issuer`` is required (``https://jenkins.example.com/oidc``). ``issuer``
    overrides everything (e.g. GitLab's ``ci_id_tokens_issuer_url``).
    """
    ci = _check_ci(ci)
    if issuer:
        return _check_issuer(issuer)
    if ci == "github":
        if host and enterprise:
            raise ConfigError("trust-policy: host and enterprise are exclusive (GitHub Enterprise Server vs Cloud)")
        if enterprise:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", enterprise):
                raise ConfigError(f"trust-policy: enterprise {enterprise!r} is not an enterprise slug")
            return f"{GITHUB_ISSUER}/{enterprise}"
        if host:
            return _check_issuer(f"https://{_bare_host(host)}/_services/token")
        return GITHUB_ISSUER
    if ci == "gitlab":
        return _check_issuer(f"https://{_bare_host(host or GITLAB_HOST)}")
    raise ConfigError(
        "trust-policy: jenkins needs issuer (the oidc-provider plugin's issuer URI, e.g. "
        "https://jenkins.example.com/oidc)"
    )


# --- subjects ------------------------------------------------------------------------------------------------------


def github_subjects(
    repo: str,
    *,
    branch: str | list[str] | None = None,
    tag: str | list[str] | None = None,
    environment: str | list[str] | None = None,
    pull_request: bool = False,
    ref: str | list[str] | None = None,
    any_ref: bool = False,
    owner_id: str | int | None = None,
    repo_id: str | int | None = None,
) -> list[str]:
    """The ``sub`` values a GitHub job of ``repo`` (``OWNER/NAME``) presents for exactly one of the choices."""
    chosen = [
        name
        for name, value in (
            ("branch", branch),
            ("tag", tag),
            ("environment", environment),
            ("pull_request", pull_request),
            ("ref", ref),
            ("any_ref", any_ref),
        )
        if value not in (None, False, "", [])
    ]
    if len(chosen) != 1:
        what = "none" if not chosen else " and ".join(chosen)
        raise ConfigError(
            f"trust-policy: github needs exactly one of branch, tag, environment, pull_request, ref or any_ref "
            f"(got {what})"
        )
    if not isinstance(repo, str) or not re.fullmatch(f"{_OWNER}/{_REPO}", repo or ""):
        raise ConfigError(f"trust-policy: repo {repo!r} is not OWNER/NAME (e.g. octo-org/octo-repo)")
    owner, name = repo.split("/", 1)
    if (owner_id is None) != (repo_id is None):
        raise ConfigError("trust-policy: owner_id and repo_id go together (immutable subject format)")
    if owner_id is not None:
        for label, value in (("owner_id", owner_id), ("repo_id", repo_id)):
            if not re.fullmatch(r"\d+", str(value)):
                raise ConfigError(f"trust-policy: {label} {value!r} is not a numeric GitHub ID")
        prefix = f"repo:{owner}@{owner_id}/{name}@{repo_id}"
    else:
        prefix = f"repo:{owner}/{name}"
    if any_ref:
        return [f"{prefix}:*"]
    if pull_request:
        return [f"{prefix}:pull_request"]
    if branch:
        return [f"{prefix}:ref:refs/heads/{_gh_value(b, 'branch')}" for b in _listed(branch)]
    if tag:
        return [f"{prefix}:ref:refs/tags/{_gh_value(t, 'tag')}" for t in _listed(tag)]
    if environment:
        return [f"{prefix}:environment:{_gh_value(e, 'environment')}" for e in _listed(environment)]
    refs = _listed(ref)
    for r in refs:
        if not r.startswith("refs/"):
            raise ConfigError(f"trust-policy: ref {r!r} must be a full ref (refs/heads/…, refs/tags/…)")
    return [f"{prefix}:ref:{_gh_value(r, 'ref')}" for r in refs]


def gitlab_subjects(
    project: str,
    *,
    ref: str | list[str] | None = None,
    ref_type: str | None = None,
    any_ref: bool = False,
) -> list[str]:
    """The ``sub`` values of a GitLab job of ``project`` (``group[/subgroup…]/name``) on ``ref`` (a branch unless
    ``ref_type="tag"``), or on any ref (of ``ref_type`` if given) with ``any_ref``."""
    if not isinstance(project, str) or not re.fullmatch(f"{_GITLAB_SEGMENT}(?:/{_GITLAB_SEGMENT})+", project or ""):
        raise ConfigError(f"trust-policy: project {project!r} is not GROUP/NAME (subgroups allowed: g/sub/name)")
    if ref_type not in (None, "branch", "tag"):
        raise ConfigError(f"trust-policy: ref_type {ref_type!r} must be branch or tag")
    if ref and any_ref:
        raise ConfigError("trust-policy: ref and any_ref are exclusive")
    prefix = f"project_path:{project}"
    if any_ref:
        return [f"{prefix}:ref_type:{ref_type}:ref:*" if ref_type else f"{prefix}:*"]
    refs = _listed(ref)
    if not refs:
        raise ConfigError(
            "trust-policy: gitlab needs ref (a branch or tag name, wildcards allowed) or any_ref; "
            "without one any pipeline of the project could assume the role"
        )
    for r in refs:
        if ":" in r or r.startswith("refs/"):
            raise ConfigError(f"trust-policy: ref {r!r} must be a plain branch or tag name (main, v1.2.3, release/*)")
    return [f"{prefix}:ref_type:{ref_type or 'branch'}:ref:{r}" for r in refs]


def jenkins_subjects(issuer: str, job: str | list[str]) -> list[str]:
    """The ``sub`` values of Jenkins jobs: job URLs (``https://jenkins.example.com/job/app/``), or patterns."""
    jobs = _listed(job)
    if not jobs:
        raise ConfigError(
            "trust-policy: jenkins needs job (the job URL, e.g. https://jenkins.example.com/job/app/, or a pattern "
            "with *); without it every job of the instance could assume the role"
        )
    out = []
    for j in jobs:
        parts = urlsplit(j)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"trust-policy: job {j!r} is not a Jenkins job URL (https://jenkins.example.com/job/…/)")
        if "*" not in j and "?" not in j and not j.endswith("/"):
            j += "/"  # JOB_URL always ends with a slash
        out.append(j)
    return out


# --- policies ------------------------------------------------------------------------------------------------------


def statement(provider: str, provider_arn: str, audience_value: str, subjects: list[str]) -> dict[str, Any]:
    """One ``Allow`` statement for ``sts:AssumeRoleWithWebIdentity`` with aud and sub conditions."""
    exact = [s for s in subjects if not _wild(s)]
    like = [s for s in subjects if _wild(s)]
    condition: dict[str, dict[str, Any]] = {"StringEquals": {f"{provider}:aud": audience_value}}
    if exact:
        condition["StringEquals"][f"{provider}:sub"] = _one_or_many(exact)
    if like:
        condition["StringLike"] = {f"{provider}:sub": _one_or_many(like)}
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": ACTION,
        "Condition": condition,
    }


def trust_setup(
    ci: str,
    *,
    account: str,
    partition: str = "aws",
    audience: str | None = None,
    host: str | None = None,
    enterprise: str | None = None,
    issuer: str | None = None,
    repo: str | None = None,
    branch: str | list[str] | None = None,
    tag: str | list[str] | None = None,
    environment: str | list[str] | None = None,
    pull_request: bool = False,
    ref: str | list[str] | None = None,
    any_ref: bool = False,
    owner_id: str | int | None = None,
    repo_id: str | int | None = None,
    project: str | None = None,
    ref_type: str | None = None,
    job: str | list[str] | None = None,
) -> TrustSetup:
    """The provider and trust policy for one CI identity (see :func:`trust_policy` for the options)."""
    ci = _check_ci(ci)
    _check_account(account)
    _check_partition(partition)
    aud = audience or _default_audience(partition)
    url = provider_url(ci, host=host, enterprise=enterprise, issuer=issuer)
    notes: list[str] = []
    if ci == "github":
        _unused(ci, project=project, ref_type=ref_type, job=job)
        subjects = github_subjects(
            repo or "",
            branch=branch,
            tag=tag,
            environment=environment,
            pull_request=pull_request,
            ref=ref,
            any_ref=any_ref,
            owner_id=owner_id,
            repo_id=repo_id,
        )
        if environment:
            notes.append("A job that names an environment presents the environment subject, never its branch.")
        if pull_request:
            notes.append("Pull requests from forks get no ID token; this subject covers same-repository PRs only.")
        if any_ref:
            notes.append("Any branch, tag, environment or pull request of the repository can assume this role.")
    elif ci == "gitlab":
        _unused(ci, repo=repo, tag=tag, environment=environment, pull_request=pull_request, job=job, branch=branch)
        subjects = gitlab_subjects(project or "", ref=ref, ref_type=ref_type, any_ref=any_ref)
        notes.append(f"Declare the token in the job: id_tokens: AWS_ID_TOKEN: aud: {aud}")
    else:
        _unused(ci, repo=repo, tag=tag, environment=environment, pull_request=pull_request, branch=branch)
        _unused(ci, project=project, ref_type=ref_type, ref=ref, any_ref=any_ref)
        subjects = jenkins_subjects(url, job or [])
        notes.append(
            f"Create an 'OpenID Connect id token as file' credential with audience {aud}; bind it right before "
            "ecr-ci (tokens expire, default 1 h). Jenkins must be reachable by AWS at the issuer URL."
        )
    provider = provider_name(url)
    arn = f"arn:{partition}:iam::{account}:oidc-provider/{provider}"
    policy = {"Version": "2012-10-17", "Statement": [statement(provider, arn, aud, subjects)]}
    return TrustSetup(ci=ci, provider_url=url, audience=aud, provider_arn=arn, policy=policy, notes=tuple(notes))


def trust_policy(ci: str, **options: Any) -> dict[str, Any]:
    """The role trust policy for a CI identity.

    Common: ``account`` (12-digit string), ``partition`` (default ``aws``), ``audience`` (default per partition).
    GitHub: ``repo="OWNER/NAME"`` and exactly one of ``branch``, ``tag``, ``environment``, ``pull_request=True``,
    ``ref`` (full ref) or ``any_ref=True``; ``enterprise`` (unique issuer slug) or ``host`` (GHES) or ``issuer``;
    ``owner_id``/``repo_id`` for immutable subjects. GitLab: ``project="group/name"``, ``ref`` (with ``ref_type``,
    default branch) or ``any_ref=True``; ``host`` (default gitlab.com) or ``issuer``. Jenkins: ``issuer`` and
    ``job`` (URL or pattern). Branch, tag, environment, ref and job also take lists (any of them may assume).
    """
    return trust_setup(ci, **options).policy


def policy_for_claims(
    claims: Mapping[str, Any], *, account: str, partition: str = "aws", audience: str | None = None
) -> dict[str, Any]:
    """A trust policy accepting exactly the token these claims come from (its issuer, sub and audience).

    Used to suggest a fix; ``account`` may be a placeholder here.
    """
    iss = claims.get("iss")
    sub = claims.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str):
        raise ValueError("claims need iss and sub to build a trust policy")
    aud = audience
    if aud is None:
        token_aud = claims.get("aud")
        aud = token_aud if isinstance(token_aud, str) else _default_audience(partition)
    provider = provider_name(iss)
    arn = f"arn:{partition}:iam::{account}:oidc-provider/{provider}"
    # The token's own sub is matched literally, whatever characters it has.
    st = statement(provider, arn, aud, [])
    st["Condition"]["StringEquals"][f"{provider}:sub"] = sub
    return {"Version": "2012-10-17", "Statement": [st]}


def render(setup: TrustSetup, *, fmt: str = "text") -> str:
    """What ``ecr-ci trust-policy`` prints: ``fmt="json"`` gives the policy alone (pipeable into
    ``aws iam create-role --assume-role-policy-document file://…``); ``"text"`` adds the provider to register."""
    body = json.dumps(setup.policy, indent=2)
    if fmt == "json":
        return body + "\n"
    if fmt != "text":
        raise ConfigError(f"trust-policy: format {fmt!r} must be text or json")
    lines = [
        "# 1. The IAM OIDC identity provider (once per account):",
        f"#    Provider URL: {setup.provider_url}",
        f"#    Audience:     {setup.audience}",
        f"#    ARN:          {setup.provider_arn}",
        f"#    aws iam create-open-id-connect-provider --url {setup.provider_url} --client-id-list {setup.audience}",
        "# 2. The role's trust policy:",
        body,
    ]
    lines += [f"# Note: {n}" for n in setup.notes]
    return "\n".join(lines) + "\n"


def from_options(ci: str, **options: Any) -> TrustSetup:
    """:func:`trust_setup` from loosely typed options (command-line strings): ``None`` and empty strings mean
    unset, ``"true"``/``"false"`` are booleans for ``pull_request`` and ``any_ref``, comma-separated lists are
    split for branch/tag/environment/ref/job. Raises :class:`ConfigError` naming the bad option and value."""
    known = _OPTIONS
    clean: dict[str, Any] = {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"trust-policy: unknown option {key!r} (known: {', '.join(sorted(known))})")
        if value is None or value == "" or value == []:
            continue
        if name in ("pull_request", "any_ref"):
            value = _strict_bool(name, value)
        elif name in ("branch", "tag", "environment", "ref", "job") and isinstance(value, str) and "," in value:
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif name == "account" and not isinstance(value, str):
            raise ConfigError(
                f"trust-policy: account {value!r} must be a 12-digit string (quote it: a number loses leading zeros)"
            )
        clean[name] = value
    if "account" not in clean:
        raise ConfigError("trust-policy: account is required (the 12-digit AWS account that owns the role)")
    return trust_setup(ci, **clean)


_OPTIONS = frozenset(
    (
        "account", "partition", "audience", "host", "enterprise", "issuer", "repo", "branch", "tag", "environment",
        "pull_request", "ref", "any_ref", "owner_id", "repo_id", "project", "ref_type", "job",
    )
)  # fmt: skip

# --- checks --------------------------------------------------------------------------------------------------------


def _check_ci(ci: str) -> str:
    if not isinstance(ci, str) or ci.lower() not in CIS:
        raise ConfigError(f"trust-policy: ci {ci!r} must be one of {', '.join(CIS)}")
    return ci.lower()


def _check_account(account: Any) -> None:
    if not isinstance(account, str):
        raise ConfigError(
            f"trust-policy: account {account!r} must be a 12-digit string (quote it: a number loses leading zeros)"
        )
    if not re.fullmatch(r"\d{12}", account):
        raise ConfigError(f"trust-policy: account {account!r} is not a 12-digit AWS account ID")


def _check_partition(partition: str) -> None:
    if partition not in PARTITIONS:
        raise ConfigError(f"trust-policy: partition {partition!r} must be one of {', '.join(PARTITIONS)}")


def _default_audience(partition: str) -> str:
    return STS_AUDIENCE_CN if partition == "aws-cn" else STS_AUDIENCE


def _check_issuer(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError(f"trust-policy: issuer {url!r} must be an https:// URL (IAM accepts only https)")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"trust-policy: issuer {url!r} must not have a query, fragment or user part")
    return url.strip()


def _bare_host(host: str) -> str:
    h = host.strip()
    for scheme in ("https://", "http://"):
        if h.lower().startswith(scheme):
            h = h[len(scheme) :]
    h = h.rstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?", h):
        raise ConfigError(f"trust-policy: host {host!r} is not a host name")
    return h


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else list(value)
    for v in items:
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"trust-policy: {value!r} contains an empty or non-text value")
    return [v.strip() for v in items]


def _gh_value(value: str, label: str) -> str:
    if any(c.isspace() for c in value):
        raise ConfigError(f"trust-policy: {label} {value!r} contains whitespace")
    return value.replace(":", "%3A")  # GitHub escapes ':' inside subject values


def _wild(value: str) -> bool:
    return "*" in value or "?" in value


def _one_or_many(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _strict_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"trust-policy: {name} {value!r} must be true or false")


def _unused(ci: str, **options: Any) -> None:
    given = [k for k, v in options.items() if v not in (None, False, "", [])]
    if given:
        raise ConfigError(f"trust-policy: {', '.join(given)} do{'es' if len(given) == 1 else ''} not apply to {ci}")
