// ecrLogin(args) { body }: logs the block in to Amazon ECR with the job's OpenID Connect identity (ecrLogin.txt,
// jenkins/README.md). The logic is Python's (`ecr-ci adapter jenkins`, on the agent): this step hands it the
// arguments as ECR_CI_INPUT_* variables, binds the id token credential around it, runs the block with the config
// directory it made and removes that afterwards. Nothing secret passes through Groovy (Python reads the token file
// and writes the credentials; only paths come back). No fields, no state: parallel branches each get their own.

def call(Map args = [:], Closure body) {
    checkArguments(args)
    boolean unix = isUnix()
    String tmp = pwd(tmp: true)
    List<String> inputs = ['ECR_CI_JENKINS_TMP=' + tmp]
    for (Object key : args.keySet()) {
        inputs.add(inputVariable(key.toString()) + '=' + inputText(args[key]))
    }
    String blockDir = null
    try {
        withEnv(inputs) {
            String exe = args.ecrCi ? args.ecrCi.toString() : locate(args, unix, tmp)
            withEnv(['ECR_CI_EXE=' + exe]) {
                String id = args.idTokenCredentialsId ? args.idTokenCredentialsId.toString() : ''
                blockDir = answer(id ? exchangeWithToken(id, unix) : exchange(unix), exe)
            }
        }
        return withEnv(lines(readFile(blockDir + '/env'))) {
            body()
        }
    } finally {
        if (blockDir) {
            dir(blockDir) {
                deleteDir()
            }
        }
    }
}

/** Fails on an argument name the step does not know, naming the closest one it does. */
void checkArguments(Map args) {
    List<String> known = argumentNames()
    for (String name : args.keySet()) {
        if (!known.contains(name)) {
            error("ecrLogin: unknown argument '${name}' (did you mean '${closest(name, known)}'? " +
                  'See the ecrLogin help for the list)')
        }
        Object value = args[name]
        if (value instanceof Map || value instanceof Closure) {
            error("ecrLogin: argument '${name}' must be a string, number, boolean or list of strings")
        }
    }
}

/** The environment variable Python reads an argument from (ecr_ci.adapters.base.input_variable). */
String inputVariable(String name) {
    return 'ECR_CI_INPUT_' + name.toUpperCase().replaceAll('[^A-Z0-9]', '_')
}

/** An argument as text: lists comma-separated, an empty string meaning "not given". */
String inputText(Object value) {
    return value instanceof List ? value.join(',') : (value == null ? '' : value.toString())
}

String closest(String name, List<String> known) {
    String best = known[0]
    for (String candidate : known) {
        if (editDistance(name, candidate) < editDistance(name, best)) {
            best = candidate
        }
    }
    return best
}

/** Levenshtein distance, ignoring case: the fewest one-character edits turning one into the other. */
int editDistance(String first, String second) {
    String a = first.toLowerCase()
    String b = second.toLowerCase()
    List<Integer> row = []
    for (int j = 0; j <= b.length(); j++) {
        row.add(j)
    }
    for (int i = 1; i <= a.length(); i++) {
        List<Integer> next = [i]
        for (int j = 1; j <= b.length(); j++) {
            int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1
            next.add(Math.min(Math.min(row[j] + 1, next[j - 1] + 1), row[j - 1] + cost))
        }
        row = next
    }
    return row[b.length()]
}

/** The ecr-ci on the agent's PATH, else the one the bootstrap installs (cached in installDir or @tmp). */
String locate(Map args, boolean unix, String tmp) {
    String home = tmp + '/ecr-ci-bootstrap-' + bootstrapVersion()
    String script = home + (unix ? '/bootstrap.sh' : '/bootstrap.ps1')
    if (bootstrapVersion() && !fileExists(script)) {  // named by version: never rewritten while one may run
        writeFile(file: home + '/requirements.lock', text: libraryResource('ecr-ci/requirements.lock'))
        writeFile(file: home + '/_build.py', text: libraryResource('ecr-ci/_build.py'))
        writeFile(file: script, text: libraryResource(unix ? 'ecr-ci/bootstrap.sh' : 'ecr-ci/bootstrap.ps1'))
    }
    String cache = args.installDir ? args.installDir.toString() : tmp + '/ecr-ci'
    String label = 'ecr-ci: find or install'
    String out = ''
    withEnv(['ECR_CI_BOOTSTRAP=' + script, 'ECR_CI_CACHE_DIR=' + cache]) {
        if (unix) {
            out = sh(label: label, returnStdout: true, script: args.installFrom ?
                'exec sh -- "$ECR_CI_BOOTSTRAP" --cache-dir "$ECR_CI_CACHE_DIR" --from "$ECR_CI_INPUT_INSTALLFROM"' :
                'command -v ecr-ci || exec sh -- "$ECR_CI_BOOTSTRAP" --cache-dir "$ECR_CI_CACHE_DIR"')
        } else {
            out = bat(label: label, returnStdout: true, script: args.installFrom ?
                '@powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "%ECR_CI_BOOTSTRAP%" ' +
                '--cache-dir "%ECR_CI_CACHE_DIR%" --from "%ECR_CI_INPUT_INSTALLFROM%"' :
                '@where ecr-ci 2>nul || powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass ' +
                '-File "%ECR_CI_BOOTSTRAP%" --cache-dir "%ECR_CI_CACHE_DIR%"')
        }
    }
    List<String> found = lines(out)
    if (!found) {
        error('ecrLogin: found no ecr-ci on the agent and the bootstrap printed no path (see its messages above)')
    }
    return found[0]
}

/** Runs the adapter with the oidc-provider "id token as file" credential bound, minted just before the exchange. */
String exchangeWithToken(String id, boolean unix) {
    boolean bound = false
    String out = ''
    try {
        withCredentials([file(credentialsId: id, variable: 'ECR_CI_TOKEN_FILE')]) {
            bound = true
            out = exchange(unix)
        }
    } catch (err) {
        if (bound || err instanceof InterruptedException) {
            throw err
        }
        error("ecrLogin: idTokenCredentialsId '${id}': ${err.message} (it must name an 'OpenID Connect id " +
              "token as file' credential of the oidc-provider plugin that this job can use)")
    }
    return out
}

/** Runs the adapter; its answer is its last line on stdout (its exit code is for people running it by hand). */
String exchange(boolean unix) {
    String label = 'ecr-ci adapter jenkins'
    if (unix) {
        return sh(label: label, returnStdout: true, script: '"$ECR_CI_EXE" adapter jenkins || true')
    }
    return bat(label: label, returnStdout: true, script: '@"%ECR_CI_EXE%" adapter jenkins || exit /b 0')
}

/** The block's directory from the adapter's last line (`ok <dir>`), or its one-line error (`error <text>`). */
String answer(String out, String exe) {
    List<String> all = lines(out)
    String last = all ? all[-1] : ''
    if (last.startsWith('error ')) {
        error(last.substring(6))
    }
    if (!last.startsWith('ok ')) {
        error("ecrLogin: '${exe} adapter jenkins' ended without an answer (see its output above; is it an ecr-ci " +
              'with the Jenkins adapter?)')
    }
    return last.substring(3)
}

/** The non-empty lines of a text, trimmed (also of the CR that Windows output carries). */
List<String> lines(String text) {
    List<String> found = []
    for (String line : text.split('\n')) {
        if (line.trim()) {
            found.add(line.trim())
        }
    }
    return found
}

// generated:start (python -m ecr_ci.gendocs writes this from ecr_ci/settings.yaml and bootstrap/)
List<String> argumentNames() {
    return [
        'registries', 'region', 'roleArn', 'sessionName', 'duration', 'sessionPolicy', 'managedSessionPolicies',
        'write', 'deadline', 'idTokenCredentialsId', 'ecrCi', 'installDir', 'installFrom'
    ]
}

String bootstrapVersion() {
    return '6d0e59b6de87'
}
// generated:end
