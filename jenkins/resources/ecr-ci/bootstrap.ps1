# bootstrap.ps1: put a hash-pinned ecr-ci in a cached virtual environment and print the path of its `ecr-ci`.
#
# Usage: bootstrap.ps1 [--cache-dir DIR] [--from SOURCE]      (Windows PowerShell 5.1+ and pwsh)
#
#   --cache-dir DIR   where the environments live. Default: $env:ECR_CI_BOOTSTRAP_CACHE_DIR, else
#                     $env:RUNNER_TOOL_CACHE\ecr-ci when that is set (GitHub runners), else
#                     $env:XDG_CACHE_HOME\ecr-ci\bootstrap, else $env:LOCALAPPDATA\ecr-ci\bootstrap (Windows),
#                     else $HOME/.cache/ecr-ci/bootstrap.
#   --from SOURCE     where ecr-ci itself comes from. Default: $env:ECR_CI_BOOTSTRAP_FROM, else the ecr-ci checkout
#                     holding this script when there is one, else `index`.
#                       DIR with pyproject.toml  an ecr-ci checkout (built into a wheel: its build backend comes
#                                                from the index)
#                       FILE.whl                 an ecr-ci wheel
#                       DIR                      a wheelhouse: wheels of every locked dependency and of ecr-ci,
#                                                installed with --no-index (air-gapped runners)
#                       index                    the package index, at the version this script pins
#   ECR_CI_BOOTSTRAP_PYTHON  the interpreter to build with (a name on PATH or a path). Default: the first of
#                     python3, python, python3.14 ... python3.10, py (the Windows launcher) that is Python 3.10+.
#
# The same logic as bootstrap.sh, line for line; the build itself is _build.py, shared by both. See bootstrap.sh
# for what is cached and how. stdout: only the absolute path of the `ecr-ci` executable. Errors: one line on
# stderr and exit 1 (2: bad usage).
# NOTE: not run by the test suite (no PowerShell on the machine that runs it); bootstrap.sh and _build.py are.

$ErrorActionPreference = 'Stop'
$EcrCiVersion = '0.1.0'
$OnWindows = $env:OS -eq 'Windows_NT'

function Fail([string]$Message, [int]$Code = 1) {
    [Console]::Error.WriteLine("ecr-ci bootstrap: $Message")
    exit $Code
}

function Get-Sha256Hex([byte[]]$Bytes) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { return (($sha.ComputeHash($Bytes) | ForEach-Object { $_.ToString('x2') }) -join '') } finally { $sha.Dispose() }
}

function ConvertTo-Absolute([string]$Path) {
    return [System.IO.Path]::GetFullPath([System.IO.Path]::Combine((Get-Location).ProviderPath, $Path)).TrimEnd('\', '/')
}

$usage = 'usage: bootstrap.ps1 [--cache-dir DIR] [--from SOURCE]'
$optCache = ''; $optFrom = ''; $cacheName = ''; $fromName = ''
$i = 0
while ($i -lt $args.Count) {
    $a = [string]$args[$i]
    if ($a -eq '--cache-dir') {
        if ($i + 1 -ge $args.Count) { Fail "--cache-dir needs a directory ($usage)" 2 }
        $optCache = [string]$args[$i + 1]; $cacheName = '--cache-dir'; $i += 2
    } elseif ($a.StartsWith('--cache-dir=')) {
        $optCache = $a.Substring(12); $cacheName = '--cache-dir'; $i += 1
    } elseif ($a -eq '--from') {
        if ($i + 1 -ge $args.Count) { Fail "--from needs a source: a checkout, a wheel, a wheelhouse directory or 'index'" 2 }
        $optFrom = [string]$args[$i + 1]; $fromName = '--from'; $i += 2
    } elseif ($a.StartsWith('--from=')) {
        $optFrom = $a.Substring(7); $fromName = '--from'; $i += 1
    } elseif ($a -eq '-h' -or $a -eq '--help') {
        Get-Content -LiteralPath $PSCommandPath | Select-Object -First 21 | ForEach-Object { $_ -replace '^# ?', '' }
        exit 0
    } else {
        Fail "unknown argument '$a' ($usage)" 2
    }
}

$here = $PSScriptRoot
$lock = Join-Path $here 'requirements.lock'
if (-not (Test-Path -LiteralPath $lock -PathType Leaf)) { Fail "the lock $lock is missing: copy the whole bootstrap directory" }

if ($optCache) {
    $cache = $optCache
} elseif ($env:ECR_CI_BOOTSTRAP_CACHE_DIR) {
    $cache = $env:ECR_CI_BOOTSTRAP_CACHE_DIR; $cacheName = 'ECR_CI_BOOTSTRAP_CACHE_DIR'
} elseif ($env:RUNNER_TOOL_CACHE) {
    $cache = Join-Path $env:RUNNER_TOOL_CACHE 'ecr-ci'; $cacheName = 'RUNNER_TOOL_CACHE'
} elseif ($env:XDG_CACHE_HOME) {
    $cache = Join-Path (Join-Path $env:XDG_CACHE_HOME 'ecr-ci') 'bootstrap'; $cacheName = 'XDG_CACHE_HOME'
} elseif ($OnWindows -and $env:LOCALAPPDATA) {
    $cache = Join-Path (Join-Path $env:LOCALAPPDATA 'ecr-ci') 'bootstrap'; $cacheName = 'LOCALAPPDATA'
} elseif ($HOME) {
    $cache = Join-Path (Join-Path (Join-Path $HOME '.cache') 'ecr-ci') 'bootstrap'; $cacheName = 'HOME'
} else {
    Fail 'no cache directory: pass --cache-dir DIR or set ECR_CI_BOOTSTRAP_CACHE_DIR (HOME is not set)' 2
}
if (-not $cache) { Fail "$cacheName is empty: name a cache directory" 2 }
$cache = ConvertTo-Absolute $cache

$parent = Split-Path -Parent $here
if ($optFrom) {
    $src = $optFrom
} elseif ($env:ECR_CI_BOOTSTRAP_FROM) {
    $src = $env:ECR_CI_BOOTSTRAP_FROM; $fromName = 'ECR_CI_BOOTSTRAP_FROM'
} elseif ((Test-Path -LiteralPath (Join-Path $parent 'pyproject.toml') -PathType Leaf) -and
          (Test-Path -LiteralPath (Join-Path (Join-Path $parent 'ecr_ci') '__init__.py') -PathType Leaf)) {
    $src = $parent; $fromName = 'the checkout holding bootstrap.ps1'
} else {
    $src = 'index'; $fromName = 'the default source'
}
if ($src -eq 'index') {
    $kind = 'index'
} else {
    $src = ConvertTo-Absolute $src
    if (Test-Path -LiteralPath $src -PathType Container) {
        if (Test-Path -LiteralPath (Join-Path $src 'pyproject.toml') -PathType Leaf) { $kind = 'checkout' } else { $kind = 'wheelhouse' }
    } elseif (Test-Path -LiteralPath $src -PathType Leaf) {
        if ($src.EndsWith('.whl')) { $kind = 'wheel' } else { Fail "${fromName}: '$src' is not a wheel (.whl), a directory or 'index'" 2 }
    } else {
        Fail "${fromName}: '$src' does not exist (give an ecr-ci checkout, a wheel, a wheelhouse directory or 'index')" 2
    }
}

# The lock's hash, first 16 hex digits, as bootstrap.sh computes it (SHA-256 of the file's bytes).
$sum = Get-Sha256Hex ([System.IO.File]::ReadAllBytes($lock))
$key = "ecr-ci-$EcrCiVersion-$kind-" + $sum.Substring(0, 16)
if ($env:ECR_CI_BOOTSTRAP_PYTHON) {
    # An explicitly chosen interpreter gets environments of its own.
    $key = "$key-python" + (Get-Sha256Hex ([System.Text.Encoding]::UTF8.GetBytes($env:ECR_CI_BOOTSTRAP_PYTHON))).Substring(0, 8)
}

# The hit: a published environment whose marker is there and whose interpreter still exists.
if ($OnWindows) { $exeRel = 'Scripts\ecr-ci.exe' } else { $exeRel = 'bin/ecr-ci' }
$pointer = Join-Path $cache "$key.env"
if (Test-Path -LiteralPath $pointer -PathType Leaf) {
    $envDir = [string](Get-Content -LiteralPath $pointer -TotalCount 1)
    $marker = Join-Path $envDir '.ecr-ci-complete'
    if ($envDir -and (Test-Path -LiteralPath $marker -PathType Leaf)) {
        $base = [string](Get-Content -LiteralPath $marker -TotalCount 1)
        $exe = Join-Path $envDir $exeRel
        if ($base -and (Test-Path -LiteralPath $base -PathType Leaf) -and (Test-Path -LiteralPath $exe -PathType Leaf)) {
            [Console]::Out.WriteLine($exe)
            exit 0
        }
    }
}

# A miss: find a Python 3.10+ (the probe is valid Python 2 too, so an old interpreter answers instead of failing).
# No double quotes in it: Windows PowerShell 5.1 does not escape them for native programs.
$probe = "import sys; sys.stdout.write('%d.%d %s\n' % (sys.version_info[0], sys.version_info[1], sys.executable))"
if ($env:ECR_CI_BOOTSTRAP_PYTHON) {
    $candidates = @($env:ECR_CI_BOOTSTRAP_PYTHON); $pythonName = 'ECR_CI_BOOTSTRAP_PYTHON'
} else {
    $candidates = @('python3', 'python', 'python3.14', 'python3.13', 'python3.12', 'python3.11', 'python3.10', 'py'); $pythonName = 'PATH'
}
$python = ''
$found = @()
foreach ($name in $candidates) {
    $cmd = Get-Command -Name $name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $cmd) { continue }
    $path = $cmd.Source
    $out = ''
    $ErrorActionPreference = 'Continue'
    $ok = $false
    try {
        # Collect everything first: cutting a native command's pipeline short leaves $LASTEXITCODE unreliable.
        $lines = @(& $path -S -E -c $probe 2>$null)
        $ok = ($LASTEXITCODE -eq 0)
        if ($lines.Count -gt 0) { $out = [string]$lines[0] }
    } catch { $ok = $false }
    $ErrorActionPreference = 'Stop'
    if (-not $ok -or -not $out -or -not $out.Contains(' ')) {
        $found += "$name ($path) does not run"
        continue
    }
    $ver = $out.Substring(0, $out.IndexOf(' '))
    $parts = $ver.Split('.')
    $major = [int]$parts[0]; $minor = [int]$parts[1]
    if ($major -gt 3 -or ($major -eq 3 -and $minor -ge 10)) {
        $python = $out.Substring($out.IndexOf(' ') + 1)
        break
    }
    $found += "$name is $ver ($path)"
}
if (-not $python) {
    if ($found.Count -eq 0) { $foundText = 'none of: ' + ($candidates -join ' ') } else { $foundText = $found -join ', ' }
    if ($pythonName -eq 'PATH') {
        Fail "needs Python 3.10 or newer on PATH (found $foundText); install one or set ECR_CI_BOOTSTRAP_PYTHON to its path"
    }
    Fail "ECR_CI_BOOTSTRAP_PYTHON: needs Python 3.10 or newer (found $foundText)"
}

& $python -E -s (Join-Path $here '_build.py') "--cache-dir=$cache" "--cache-name=$cacheName" "--kind=$kind" `
    "--source=$src" "--source-name=$fromName" "--key=$key" "--lock=$lock" "--version=$EcrCiVersion"
exit $LASTEXITCODE
