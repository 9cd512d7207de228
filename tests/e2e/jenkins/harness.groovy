// A stand-in Jenkins for the shared library's steps: loads jenkins/vars/*.groovy with GroovyShell(binding).parse
// and supplies the pipeline steps they may call as closures. `sh` really runs its script (`sh -xe`, as Jenkins'
// durable-task does, so the trace lands in the console) with the environment accumulated by withEnv and
// withCredentials; `bat` is recorded and emulated (see Jenkins.batToSh). Every step call is recorded with its
// arguments, the withEnv list in force, and its result; every console line is kept. The cases (cases.groovy)
// run one after the other in this JVM; the run ends with the line `N passed, N failed` and exits 1 on failure.
//
// Usage: groovy harness.groovy CONFIG.json [CASE-NAME-SUBSTRING...]
// CONFIG: library (the library root, jenkins/), work (a scratch directory), records (where to write the JSON
// record), env (the agent's base environment), build (JOB_NAME, BUILD_NUMBER, JENKINS_URL...), credentials
// ({id: {type: file|string, path, fileName}}), and whatever the cases read (cfg.<name>).

import groovy.json.JsonOutput
import groovy.json.JsonSlurper

import java.nio.file.Files
import java.util.concurrent.atomic.AtomicInteger

/** What Jenkins' `error` and a failed `sh` throw (hudson.AbortException is an IOException). */
class AbortException extends IOException {
    AbortException(String message) { super(message) }
}

/** One pipeline thread's context: its environment, working directory, parallel branch and bound secrets. */
class Ctx {
    Map<String, String> env
    List<String> withEnvList = []
    Set<String> boundNames = [] as Set
    String cwd
    String branch

    Ctx copy() {
        return new Ctx(env: new LinkedHashMap(env), withEnvList: new ArrayList(withEnvList),
                       boundNames: new HashSet(boundNames), cwd: cwd, branch: branch)
    }
}

/** Jenkins' `env` global: reads and writes the current thread's environment. */
class EnvGlobal {
    Jenkins jenkins
    Object getProperty(String name) { return jenkins.ctx().env[name] }
    void setProperty(String name, Object value) { jenkins.ctx().env[name] = value?.toString() }
}

class Jenkins {
    Map cfg
    boolean unix = true
    String caseName = ''
    final List<Map> steps = Collections.synchronizedList([])
    final List<Map> console = Collections.synchronizedList([])
    final ThreadLocal<Ctx> local = new ThreadLocal<>()
    final AtomicInteger counter = new AtomicInteger()

    Ctx ctx() { return local.get() }

    void log(String line) {
        Ctx c = ctx()
        String text = (c?.branch ? "[${c.branch}] " : '') + line
        console << [case: caseName, line: text]
        if (cfg.echo != false) {  // the pytest wrapper turns this off and reads the record instead
            System.out.println(text)
        }
    }

    /** Records one step call; closures are left out, everything else is kept as text. */
    Map record(String step, Object args) {
        Ctx c = ctx()
        Map entry = [case: caseName, branch: c?.branch, step: step, args: plain(args),
                     env: new ArrayList(c?.withEnvList ?: [])]
        steps << entry
        return entry
    }

    static Object plain(Object v) {
        if (v instanceof Closure) { return '<closure>' }
        if (v instanceof Map) { return v.collectEntries { k, x -> [(k.toString()): plain(x)] } }
        if (v instanceof Collection || v instanceof Object[]) { return v.collect { plain(it) } }
        if (v == null || v instanceof Boolean || v instanceof Number) { return v }
        return v.toString()
    }

    String resolve(String path) {
        File f = new File(path)
        return (f.absolute ? f : new File(ctx().cwd, path)).canonicalPath
    }

    Object within(Ctx next, Closure body) {
        Ctx saved = ctx()
        local.set(next)
        try { return body.call() } finally { local.set(saved) }
    }

    // -- sh / bat ---------------------------------------------------------------------------------------------
    Object shell(String kind, Object a) {
        Map m = a instanceof Map ? new LinkedHashMap(a) : [script: a.toString()]
        Map entry = record(kind, m)
        String script = m.script.toString()
        File dir = new File(ctx().cwd + '@tmp', 'durable-' + counter.incrementAndGet())
        dir.mkdirs()
        File file = new File(dir, 'script.sh')
        List<String> cmd
        if (kind == 'sh') {
            file.text = script
            cmd = script.startsWith('#!') ? ['sh', file.path] : ['sh', '-xe', file.path]
        } else {
            file.text = batToSh(script)
            cmd = ['sh', '-e', file.path]
        }
        new File(ctx().cwd).mkdirs()
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(new File(ctx().cwd))
        pb.environment().clear()
        pb.environment().putAll(ctx().env)
        pb.redirectInput(ProcessBuilder.Redirect.from(new File('/dev/null')))
        Process p = pb.start()
        Ctx parent = ctx()
        Thread err = Thread.start { within(parent) { p.errorStream.eachLine('UTF-8') { log(it) } } }
        String out = p.inputStream.getText('UTF-8')
        int rc = p.waitFor()
        err.join()
        dir.deleteDir()
        if (!m.returnStdout) { out.eachLine { log(it) } }
        entry.result = m.returnStatus ? rc : (m.returnStdout ? out : null)
        entry.exitCode = rc
        if (m.returnStatus) { return rc }
        if (rc != 0) {
            throw new AbortException("script returned exit code ${rc}")
        }
        return m.returnStdout ? out : null
    }

    /**
     * Emulates `bat` for the small cmd subset a step may use, by translating it to a POSIX script: `@` hides a
     * line's echo (cmd echoes every other line, expanded, to stdout, which `returnStdout` returns), `echo off`,
     * `%NAME%` (only inside double quotes: cmd expands it before parsing, so an unquoted value would be
     * re-parsed as commands), `||` and `&&`, `2>nul` / `>nul`, `where NAME` (as `command -v`), `exit /b N`.
     * Anything else fails the case, so a step cannot rely on cmd syntax this emulation does not check.
     */
    String batToSh(String script) {
        StringBuilder sh = new StringBuilder()
        boolean echo = true
        for (String raw : script.split(/\r?\n/)) {
            String line = raw.trim()
            if (!line) { continue }
            boolean quiet = line.startsWith('@')
            if (quiet) { line = line.substring(1).trim() }
            if (line.equalsIgnoreCase('echo off')) { echo = false; continue }
            String outside = line.replaceAll(/"[^"]*"/, '""')
            if (outside =~ /%[A-Za-z_][A-Za-z0-9_]*%/) {
                throw new AbortException("harness: bat line expands %VAR% outside double quotes: ${line}")
            }
            String expanded = line.replaceAll(/%([A-Za-z_][A-Za-z0-9_]*)%/) { all, name -> ctx().env[name] ?: '' }
            if (echo && !quiet) {
                sh << "printf '%s\\n' " << quote(ctx().cwd.replace('/', '\\') + '>' + expanded) << '\n'
            }
            String words = line.replaceAll(/%([A-Za-z_][A-Za-z0-9_]*)%/, '\\${$1}')
            for (String part : words.split(/(?<=\|\||&&)|(?=\|\||&&)/)) {
                sh << translate(part) << ' '
            }
            sh << '\n'
        }
        return sh.toString()
    }

    static String translate(String part) {
        String p = part.trim()
        if (p == '||' || p == '&&') { return p }
        p = p.replaceAll(/(^|\s)2>nul(\s|$)/, '$1 2>/dev/null$2').replaceAll(/(^|\s)>nul(\s|$)/, '$1 >/dev/null$2')
        if (p ==~ /(?i)where\s+\S+.*/) { return 'command -v ' + p.substring(5).trim() }
        if (p ==~ /(?i)exit\s+\/b\s+\d+/) { return 'exit ' + p.split(/\s+/)[-1] }
        if (p.startsWith('"')) { return p }
        if (p ==~ /(?i)powershell(\s.*)?/) {  // not installed here: fails if reached, as a missing program would
            return "{ echo 'harness: no PowerShell on this agent' >&2; (exit 127); }"
        }
        throw new AbortException("harness: the bat emulation does not know this command: ${p}")
    }

    static String quote(String s) { return "'" + s.replace("'", "'\\''") + "'" }

    // -- block steps ------------------------------------------------------------------------------------------
    Object withEnv(List overrides, Closure body) {
        record('withEnv', [overrides: overrides])
        Ctx next = ctx().copy()
        for (Object o : overrides) {
            String s = o.toString()
            int eq = s.indexOf('=')
            if (eq < 1) { throw new AbortException("withEnv: not NAME=VALUE: ${s}") }
            String name = s.substring(0, eq)
            String value = s.substring(eq + 1)
            if (name.contains('+')) {  // PATH+EXTRA=/x prepends, as Jenkins does
                name = name.substring(0, name.indexOf('+'))
                value = value + File.pathSeparator + (next.env[name] ?: '')
            }
            next.env[name] = value
            next.withEnvList << s
        }
        return within(next, body)
    }

    Object withCredentials(List bindings, Closure body) {
        record('withCredentials', [bindings: bindings])
        Ctx next = ctx().copy()
        List<File> made = []
        try {
            for (Map b : bindings) {
                Map cred = cfg.credentials[b.credentialsId]
                if (cred == null) {
                    throw new AbortException("Could not find credentials entry with ID '${b.credentialsId}'")
                }
                String wanted = b.binding == 'file' ? 'file' : 'string'
                if (cred.type != wanted) {
                    throw new AbortException("Credentials '${b.credentialsId}' is of type '${cred.type}' where " +
                                             "'${wanted}' was expected")
                }
                String secret = new File(cred.path).text
                if (wanted == 'file') {
                    File dir = new File(ctx().cwd + '@tmp', 'secretFiles/' + UUID.randomUUID())
                    dir.mkdirs()
                    File f = new File(dir, cred.fileName ?: 'id-token')
                    f.text = secret
                    made << dir
                    next.env[b.variable] = f.path
                } else {
                    next.env[b.variable] = secret
                }
                next.boundNames << b.variable.toString()
            }
            return within(next, body)
        } finally {
            made.each { it.deleteDir() }
        }
    }

    Object dir(String path, Closure body) {
        record('dir', [path: path])
        Ctx next = ctx().copy()
        next.cwd = resolve(path)
        return within(next, body)
    }

    Object parallel(Map branches) {
        record('parallel', [branches: branches.keySet().findAll { it != 'failFast' }])
        List<Throwable> failures = Collections.synchronizedList([])
        List<Thread> threads = []
        Ctx parent = ctx()
        branches.each { String name, Object body ->
            if (name == 'failFast') { return }
            Ctx mine = parent.copy()
            mine.branch = name
            threads << Thread.start {
                local.set(mine)
                try { ((Closure) body).call() } catch (Throwable t) { failures << t; log("Failed in branch ${name}") }
            }
        }
        threads*.join()
        if (failures) { throw failures[0] }
        return null
    }

    // -- simple steps -----------------------------------------------------------------------------------------
    void install(Binding b) {
        b.setVariable('sh', { a -> shell('sh', a) })
        b.setVariable('bat', { a -> shell('bat', a) })
        b.setVariable('isUnix', { -> record('isUnix', [:]).result = unix; unix })
        b.setVariable('echo', { Object m -> record('echo', [message: m]); log(m.toString()) })
        b.setVariable('error', { Object m ->
            record('error', [message: m])
            log("ERROR: ${m}")
            throw new AbortException(m.toString())
        })
        b.setVariable('withEnv', { List e, Closure body -> withEnv(e, body) })
        b.setVariable('withCredentials', { List bindings, Closure body -> withCredentials(bindings, body) })
        b.setVariable('file', { Map a -> [binding: 'file'] + a })
        b.setVariable('string', { Map a -> [binding: 'string'] + a })
        b.setVariable('libraryResource', { Object a ->
            String name = a instanceof Map ? a.resource : a
            Map entry = record('libraryResource', [resource: name])
            File f = new File(cfg.library.toString(), 'resources/' + name)
            if (!f.isFile()) { throw new AbortException("No such library resource ${name} could be found.") }
            entry.result = f.getText('UTF-8')
            return entry.result
        })
        b.setVariable('writeFile', { Map a ->
            record('writeFile', a)
            File f = new File(resolve(a.file.toString()))
            f.parentFile.mkdirs()
            f.setText(a.text.toString(), 'UTF-8')
            null
        })
        b.setVariable('readFile', { Object a ->
            String name = a instanceof Map ? a.file : a
            Map entry = record('readFile', [file: name])
            File f = new File(resolve(name))
            if (!f.isFile()) { throw new FileNotFoundException(f.path) }
            entry.result = f.getText('UTF-8')
            return entry.result
        })
        b.setVariable('fileExists', { Object a ->
            String name = a instanceof Map ? a.file : a
            Map entry = record('fileExists', [file: name])
            entry.result = new File(resolve(name)).exists()
            return entry.result
        })
        b.setVariable('pwd', { Map a = [:] ->
            Map entry = record('pwd', a)
            entry.result = a.tmp ? ctx().cwd + '@tmp' : ctx().cwd
            return entry.result
        })
        b.setVariable('dir', { String path, Closure body -> dir(path, body) })
        b.setVariable('deleteDir', { ->
            record('deleteDir', [path: ctx().cwd])
            new File(ctx().cwd).deleteDir()
            null
        })
        b.setVariable('parallel', { Map branches -> parallel(branches) })
        b.setVariable('env', new EnvGlobal(jenkins: this))
    }

    /** A fresh agent context for one case: the base environment plus the build's variables, in a new workspace. */
    Ctx fresh(String name) {
        String ws = new File(cfg.work.toString(), 'workspace/' + name.replaceAll(/[^A-Za-z0-9]+/, '-')).path
        new File(ws).mkdirs()
        Map env = new LinkedHashMap(cfg.env)
        env.putAll(cfg.build ?: [:])
        env.WORKSPACE = ws
        env.WORKSPACE_TMP = ws + '@tmp'
        return new Ctx(env: env, cwd: ws, branch: null)
    }

    /** The steps this case recorded with `step` (optionally only those whose script/message contains `text`). */
    List<Map> recorded(String step = null) {
        synchronized (steps) {
            return steps.findAll { it.case == caseName && (step == null || it.step == step) }
        }
    }

    List<String> lines() {
        synchronized (console) { return console.findAll { it.case == caseName }*.line }
    }
}

// -- the runner ------------------------------------------------------------------------------------------------
if (args.length < 1) {
    System.err.println('usage: groovy harness.groovy CONFIG.json [CASE...]')
    System.exit(2)
}
Map cfg = new JsonSlurper().parse(new File(args[0])) as Map
List<String> only = args.length > 1 ? args[1..-1] : []
Jenkins jenkins = new Jenkins(cfg: cfg)
jenkins.install(binding)
List cases = []
binding.setVariable('jenkins', jenkins)
binding.setVariable('cfg', cfg)
binding.setVariable('test', { String name, Closure body -> cases << [name: name, body: body] })

// Every vars/*.groovy file becomes a global variable whose call(...) is the step, as in a shared library.
new File(cfg.library.toString(), 'vars').eachFileMatch(~/.*\.groovy/) { File f ->
    Script step = new GroovyShell(binding).parse(f)
    String name = f.name - '.groovy'
    binding.setVariable(name, { Object[] a -> step.invokeMethod('call', a) })
    binding.setVariable(name + 'Script', step)
}
evaluate(new File(cfg.cases.toString()))

int passed = 0
int failed = 0
long started = System.nanoTime()
List<Map> results = []
for (Map c : cases) {
    if (only && !only.any { c.name.contains(it) }) { continue }
    jenkins.caseName = c.name
    jenkins.unix = true
    jenkins.local.set(jenkins.fresh(c.name))
    long t0 = System.nanoTime()
    String outcome = 'passed'
    String message = null
    try {
        c.body.call()
        passed++
    } catch (Throwable t) {
        failed++
        outcome = 'failed'
        message = t.toString()
        StringWriter sw = new StringWriter()
        t.printStackTrace(new PrintWriter(sw))
        System.out.println(sw.toString().readLines().findAll { !it.contains('org.codehaus.groovy') &&
            !it.contains('sun.reflect') && !it.contains('java.lang.reflect') }.take(25).join('\n'))
    }
    long ms = (System.nanoTime() - t0).intdiv(1000000)
    results << [name: c.name, outcome: outcome, message: message, ms: ms]
    System.out.println("${outcome == 'passed' ? 'ok  ' : 'FAIL'} ${c.name} (${ms} ms)${message ? ': ' + message : ''}")
}
long totalMs = (System.nanoTime() - started).intdiv(1000000)
new File(cfg.records.toString()).setText(JsonOutput.toJson([
    results: results, steps: jenkins.steps, console: jenkins.console, ms: totalMs]), 'UTF-8')
System.out.println("${passed} passed, ${failed} failed")
System.exit(failed || !(passed + failed) ? 1 : 0)
