"""The command line itself: what a core command costs to start."""


def test_core_commands_do_not_import_the_other_commands_modules():
    """`ecr-ci login` runs once per CI job: building its parser must not import doctor, trust or the helper."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom ecr_ci.cli import main\n"
        "main(['login', '--registry', '12'], {})\n"
        "print(sorted(m for m in sys.modules if m.startswith('ecr_ci.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(eval(out))  # noqa: S307 - our own subprocess's repr of a list of names
    assert loaded.isdisjoint(
        {
            "ecr_ci.doctor_cli",
            "ecr_ci.diagnostics.doctor",
            "ecr_ci.diagnostics.explain",
            "ecr_ci.diagnostics.claims",
            "ecr_ci.diagnostics.trust",
            "ecr_ci.diagnostics.trustgen",
            "ecr_ci.clients.helper",
        }
    )
    assert "ecr_ci.cli" in loaded
