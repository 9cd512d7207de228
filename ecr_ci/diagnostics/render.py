"""The one error renderer: a failure's :class:`~ecr_ci.errors.Diagnostics` as plain text or Markdown.

Every entry point (the command line, the credential helper, the doctor and the three CI adapters) turns an
:class:`~ecr_ci.errors.EcrCiError` into diagnostics with :func:`diagnose` and shows them with :func:`text` (a
terminal, a GitLab or Jenkins log) or :func:`markdown` (a GitHub step summary); adapters add only their platform's
framing (``::error::``, collapsible sections). Nothing here ever sees a secret: diagnostics hold claims, never a
token, and every string in them has been through :func:`ecr_ci.errors.scrub`.
"""

from __future__ import annotations

from ecr_ci.errors import Diagnostics, EcrCiError, TrustError, scrub

CLAIMS_HEADING = "Identity token claims (unverified, for debugging):"
KEYS_HEADING = "They are matched in the role's trust policy as:"


def diagnose(error: BaseException) -> Diagnostics:
    """The diagnostics of ``error``: an STS refusal gets its explanation (claims, condition keys, ranked causes
    and a trust policy that would accept the token); anything that is not an :class:`EcrCiError` is a bug."""
    if isinstance(error, TrustError):
        return _explained(error)
    if isinstance(error, EcrCiError):
        return error.diagnostics()
    return Diagnostics(
        summary=f"unexpected {error.__class__.__name__}: {scrub(str(error))[:300]} (please report this as a bug)",
        code="internal.bug",
    )


def _explained(error: TrustError) -> Diagnostics:
    from ecr_ci.diagnostics.explain import explain

    base = error.diagnostics()
    f = base.fields
    claims = f.get("claims")
    d = explain(
        str(f.get("sts_code") or ""),
        str(f.get("sts_message") or ""),
        claims if isinstance(claims, dict) else None,
        audience_expected=_str(f.get("audience")),
        role_arn=_str(f.get("role_arn")),
        partition=_str(f.get("partition")),
        ci=_str(f.get("source")),
    )
    fields = {k: v for k, v in f.items() if k != "claims"}
    return Diagnostics(
        summary=base.summary,
        code=d.code if d.code != "error" else base.code,
        claims=d.claims,
        condition_keys=d.condition_keys,
        hints=[scrub(h) for h in d.hints] or base.hints,
        details=[scrub(x) for x in d.details],
        fields=fields,
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def text(d: Diagnostics) -> str:
    """Plain text block: what a terminal, GitLab and Jenkins show. The first line is the one-line error."""
    lines = [d.summary, *claim_lines(d.claims, d.condition_keys)]
    if d.hints:
        lines.append("Likely cause:" if len(d.hints) == 1 else "Likely causes:")
        lines += [f"  - {h}" for h in d.hints]
    # Last: details can be long (a suggested trust policy) and must not push the claims out of view.
    lines += [f"  {x}" for x in d.details]
    if len(lines) > 1 and d.code not in ("error", ""):  # a one-line error stays one line
        lines.append(f"(cause: {d.code})")
    return "\n".join(lines)


def claim_lines(claims: dict[str, object], condition_keys: dict[str, object], pad: str = "") -> list[str]:
    """The claims block (and the condition keys they are matched as), as :func:`text` and the doctor show it."""
    lines: list[str] = []
    if claims:
        lines.append(pad + CLAIMS_HEADING)
        lines += [f"{pad}  {k}: {_show(v)}" for k, v in claims.items()]
    if condition_keys:
        lines.append(pad + KEYS_HEADING)
        lines += [f"{pad}  {k} = {_show(v)}" for k, v in condition_keys.items()]
    return lines


def markdown(d: Diagnostics, *, title: str = "ecr-ci: login failed") -> str:
    """The same content as Markdown, for a GitHub step summary or a merge-request note."""
    out = [f"### {title}", "", _md_escape(d.summary), "", f"Cause code: `{d.code}`", ""]
    if d.claims:
        out += [f"**{CLAIMS_HEADING}**", "", "| claim | value |", "| --- | --- |"]
        out += [f"| `{k}` | {_md_cell(_show(v))} |" for k, v in d.claims.items()]
        out.append("")
    if d.condition_keys:
        out += [f"**{KEYS_HEADING}**", "", "| condition key | value |", "| --- | --- |"]
        out += [f"| `{k}` | {_md_cell(_show(v))} |" for k, v in d.condition_keys.items()]
        out.append("")
    if d.hints:
        out += ["**Likely cause:**" if len(d.hints) == 1 else "**Likely causes:**", ""]
        out += [f"- {_md_escape(h)}" for h in d.hints]
        out.append("")
    if d.details:
        out += ["<details><summary>Details</summary>", "", "```", *d.details, "```", "", "</details>", ""]
    return "\n".join(out)


def _show(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in value)
    return repr(value) if isinstance(value, str) else str(value)


def _md_escape(s: str) -> str:
    return s.replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(s: str) -> str:
    return _md_escape(s).replace("|", "\\|").replace("\n", " ")
