"""``ecr-ci configure-helper``: point docker (and podman, buildah, skopeo) at ``docker-credential-ecr-ci``.

It merges ``credHelpers[<host>] = "ecr-ci"`` into the docker config for each registry, under the same lock, atomic
replace and 0600 mode as every other write (``sinks``), and explains on stderr what that changes:

* For a host in ``credHelpers`` docker asks the helper and ignores both ``credsStore`` and any ``auths`` entry for
  that host; other registries keep using ``credsStore`` / ``auths`` as before.
* podman, buildah and skopeo read ``credHelpers`` from the docker config too, but only when their own auth file
  (``REGISTRY_AUTH_FILE``, else ``${XDG_RUNTIME_DIR}/containers/auth.json``) has nothing for the host.
* The helper runs in the client's environment: it takes its settings from the ``ECR_CI_*`` variables there
  (``ECR_CI_ROLE_ARN``, ``ECR_CI_OIDC``, …), else the standard AWS credential chain.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecr_ci.clients import sinks

HELPER = sinks.HELPER_NAME  # credHelpers value "ecr-ci" → executable docker-credential-ecr-ci
EXECUTABLE = f"docker-credential-{HELPER}"


def configure(
    hosts: list[str], env: Mapping[str, str], docker_config: str | None = None
) -> tuple[sinks.WriteResult, list[str]]:
    """Merge ``credHelpers`` entries for ``hosts``; return what was written and the explanations to show."""
    t = sinks.target("docker", env, docker_config)
    result = sinks.WriteResult(t.path)
    notes: list[str] = []
    sinks.read_json(t.path, "docker config")  # a bad file stops here, before a lock file is made
    with sinks.locked(t.path):
        data = sinks.read_json(t.path, "docker config")
        helpers = data.setdefault("credHelpers", {})
        auths = data.get("auths", {})
        for host in hosts:
            before = helpers.get(host)
            helpers[host] = HELPER
            result.hosts.append(host)
            if before not in (None, HELPER):
                notes.append(f"{host}: replaced credHelpers[{host}] = {before!r} (put it back by hand to undo)")
            if host in auths:
                notes.append(
                    f"{host}: docker now ignores auths[{host}] in {t.path} (credHelpers wins); `ecr-ci logout "
                    f"--registry {host}` removes it if ecr-ci wrote it"
                )
        store = data.get("credsStore")
        if store:
            notes.append(
                f"credsStore {store!r} in {t.path} keeps serving every other registry; for these hosts credHelpers "
                "takes precedence over it"
            )
        sinks.write_json(t.path, data)
    return result, notes
