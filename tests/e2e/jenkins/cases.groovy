// The cases the harness runs (harness.groovy supplies `test`, the pipeline steps, `ecrLogin`, `jenkins`, `cfg`).
// cfg: host (an ECR host name served by the local registry), roleArn, credentialId (an id-token-as-file
// credential), ecrCi (the ecr-ci under test), venvBin (its bin directory), env.ECR_TEST_* (what the block's
// pushes use), bootstrap (whether jenkins/resources carries the bootstrap), installFrom (a source it installs).

import org.codehaus.groovy.ast.ClassCodeVisitorSupport
import org.codehaus.groovy.ast.expr.BinaryExpression
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.ConstructorCallExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.MapExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.StaticMethodCallExpression
import org.codehaus.groovy.ast.expr.TernaryExpression
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit

/** Runs `body`, which must fail; returns what it threw. */
Throwable failure(Closure body) {
    try {
        body()
    } catch (Throwable t) {
        return t
    }
    throw new AssertionError('expected a failure, but the block completed')
}

/** The block directories (ecr-ci-block-*) left under the workspace's @tmp. */
List<String> leftovers() {
    File tmp = new File(pwd(tmp: true))
    return tmp.isDirectory() ? tmp.list().findAll { it.startsWith('ecr-ci-block') } as List : []
}

/** Pushes the test image to the ECR host as app:<tag> with skopeo, reading whatever registry config the block has. */
void push(String tag) {
    withEnv(["TAG=${tag}"]) {
        sh 'skopeo copy --quiet --dest-cert-dir "$ECR_TEST_CERT_DIR" "oci:$ECR_TEST_LAYOUT:latest" ' +
           '"docker://$ECR_TEST_HOST/app:$TAG"'
    }
}

Map login = [roleArn: cfg.roleArn, registries: [cfg.host], idTokenCredentialsId: cfg.credentialId, ecrCi: cfg.ecrCi]

// -- the harness itself: if these fail, nothing below means anything ------------------------------------------
test('harness: sh really runs, with the withEnv and withCredentials environment, traced') {
    withEnv(['HARNESS_A=one']) {
        withCredentials([file(credentialsId: cfg.credentialId, variable: 'HARNESS_TOKEN')]) {
            String out = sh(returnStdout: true, script: 'echo "$HARNESS_A"; test -s "$HARNESS_TOKEN" && echo bound')
            assert out.readLines() == ['one', 'bound']
            assert new File(env.HARNESS_TOKEN).exists()
        }
    }
    assert env.HARNESS_A == null
    assert jenkins.lines().any { it.contains('+ echo one') }  // sh -x traced the expanded command
    assert failure { sh 'exit 3' }.message == 'script returned exit code 3'
    assert sh(returnStatus: true, script: 'exit 4') == 4
}

test('harness: the bound token file is removed after withCredentials; a missing id fails') {
    String path = null
    withCredentials([file(credentialsId: cfg.credentialId, variable: 'T')]) { path = env.T }
    assert path && !new File(path).exists()
    assert failure { withCredentials([file(credentialsId: 'nope', variable: 'T')]) { } }.message.contains("'nope'")
}

test('harness: bat is emulated (echo, quoted %VAR%, where, ||) and rejects unquoted %VAR%') {
    withEnv(['HARNESS_B=two words', "PATH+VENV=${cfg.venvBin}"]) {
        String out = bat(returnStdout: true, script: 'echo off\n@where ecr-ci 2>nul || "%HARNESS_B%"')
        assert out.trim() == "${cfg.venvBin}/ecr-ci"
        out = bat(returnStdout: true, script: '"%ECR_TEST_ECHO%" "%HARNESS_B%"')
        assert out.readLines()[0].endsWith('>"' + env.ECR_TEST_ECHO + '" "two words"')  // cmd echoes the line
        assert out.readLines()[1] == 'two words'
        assert failure { bat 'echo %HARNESS_B%' }.message.contains('outside double quotes')
    }
}

test('harness: parallel branches run at once, each with its own environment') {
    Map seen = [:].asSynchronized()
    parallel(a: { withEnv(['X=a']) { seen.a = sh(returnStdout: true, script: 'sleep 0.3; echo "$X"').trim() } },
             b: { withEnv(['X=b']) { seen.b = sh(returnStdout: true, script: 'sleep 0.3; echo "$X"').trim() } })
    assert seen == [a: 'a', b: 'b']
    assert jenkins.lines().any { it.startsWith('[a] ') } && jenkins.lines().any { it.startsWith('[b] ') }
}

// -- the step's source ---------------------------------------------------------------------------------------
test('source: sh/bat scripts are single-quoted constants; no fields, imports or constructors; known calls only') {
    File source = new File(cfg.library.toString(), 'vars/ecrLogin.groovy')
    CompilationUnit unit = new CompilationUnit()
    SourceUnit su = unit.addSource(source)
    unit.compile(Phases.CONVERSION)
    def module = su.AST
    assert module.imports.empty && module.starImports.empty && module.staticImports.isEmpty()
    def scriptClass = module.classes[0]
    assert scriptClass.fields.findAll { !it.synthetic }.empty : 'a field would be state shared by parallel branches'
    assert source.text.count('\n') < 200
    // Pipeline steps, the step's own methods, and JDK/GDK methods on script-security's generic whitelist.
    Set<String> steps = ['sh', 'bat', 'isUnix', 'pwd', 'withEnv', 'withCredentials', 'file', 'error', 'readFile',
                         'writeFile', 'fileExists', 'libraryResource', 'dir', 'deleteDir', 'body'] as Set
    Set<String> own = module.methods*.name as Set
    own += scriptClass.methods*.name
    Set<String> jdk = ['keySet', 'add', 'contains', 'toString', 'toUpperCase', 'toLowerCase', 'replaceAll', 'join',
                       'length', 'charAt', 'min', 'split', 'trim', 'startsWith', 'substring', 'getAt'] as Set
    List<String> bad = []
    List<String> scripts = []
    def visitor = new ClassCodeVisitorSupport() {
        SourceUnit getSourceUnit() { su }
        void visitMethodCallExpression(MethodCallExpression call) {
            String name = call.methodAsString
            if (call.lineNumber < 1) { return }  // generated by the compiler (the script's run method)
            if (!(name in steps || name in own || name in jdk)) { bad << "${name} (line ${call.lineNumber})" }
            if (name in ['sh', 'bat']) {
                Expression arg = call.arguments.expressions[0]
                Expression script = arg instanceof MapExpression ?
                    arg.mapEntryExpressions.find { it.keyExpression.text == 'script' }?.valueExpression : arg
                scripts << script
            }
            super.visitMethodCallExpression(call)
        }
        void visitStaticMethodCallExpression(StaticMethodCallExpression call) {
            bad << "static ${call.methodAsString}"
            super.visitStaticMethodCallExpression(call)
        }
        void visitConstructorCallExpression(ConstructorCallExpression call) {
            if (call.lineNumber < 1) { return }
            bad << "new ${call.type.name}"
            super.visitConstructorCallExpression(call)
        }
    }
    module.classes.each { visitor.visitClass(it) }
    assert bad.empty
    assert scripts.size() >= 4
    List<String> text = source.readLines()
    // A script is a single-quoted literal, a '+' of them, or a ternary choosing between them: never a GString.
    Closure literal
    literal = { Expression e ->
        if (e instanceof TernaryExpression) { return literal(e.trueExpression) && literal(e.falseExpression) }
        if (e instanceof BinaryExpression) {
            return e.operation.text == '+' && literal(e.leftExpression) && literal(e.rightExpression)
        }
        return e instanceof ConstantExpression && e.value instanceof String &&
            text[e.lineNumber - 1].charAt(e.columnNumber - 1) == "'" as char
    }
    scripts.each { assert literal(it) }
}

// -- argument checks (nothing runs before them) ---------------------------------------------------------------
test('every argument maps to the variable Python reads it from (ECR_CI_INPUT_<NAME>)') {
    Map expected = cfg.inputVariables
    assert ecrLoginScript.argumentNames().sort() == (expected.keySet() as List).sort()
    expected.each { String name, String variable -> assert ecrLoginScript.inputVariable(name) == variable }
    assert ecrLoginScript.inputText(['a', 'b']) == 'a,b' && ecrLoginScript.inputText(null) == ''
    assert ecrLoginScript.inputText(false) == 'false' && ecrLoginScript.inputText(900) == '900'
}

test('an unknown argument fails, naming it and the closest valid name, before anything runs') {
    Throwable e = failure { ecrLogin(rolearn: cfg.roleArn) { assert false } }
    assert e.message.contains("unknown argument 'rolearn'") && e.message.contains("'roleArn'")
    e = failure { ecrLogin(idTokenCredentialId: 'x') { assert false } }
    assert e.message.contains("'idTokenCredentialsId'")
    assert !jenkins.recorded('sh') && !jenkins.recorded('withCredentials')
}

// -- logging in for real ---------------------------------------------------------------------------------------
/** The step's own sh/bat calls (they carry a label; the blocks' do not). */
List<Map> stepShells() {
    return jenkins.recorded().findAll { it.step in ['sh', 'bat'] && it.args.label }
}

test('id token: the block pushes to the ECR host, gets the body value back, and the config is gone after') {
    // Negative control: the user's own config has a stale entry for the host, which the registry refuses.
    withEnv(['TAG=before']) {
        assert sh(returnStatus: true, script: 'skopeo copy --quiet --dest-cert-dir "$ECR_TEST_CERT_DIR" ' +
                  '"oci:$ECR_TEST_LAYOUT:latest" "docker://$ECR_TEST_HOST/app:$TAG"') != 0
    }
    String seen = null
    Object value = ecrLogin(login) {
        seen = env.DOCKER_CONFIG
        assert seen.startsWith(pwd(tmp: true) + '/ecr-ci-block-') && new File(seen, 'config.json').isFile()
        assert env.REGISTRY_AUTH_FILE == null && env.HELM_REGISTRY_CONFIG == null  // not asked for
        assert env.ECR_CI_INPUT_ROLEARN == null  // the arguments are the adapter's, not the block's
        push('jenkins-1')
        'the body value'
    }
    assert value == 'the body value'
    assert !new File(seen).exists() && leftovers().empty
    List<Map> all = jenkins.recorded()
    int bind = all.findIndexOf { it.step == 'withCredentials' }
    int adapter = all.findIndexOf { it.step == 'sh' && it.args.label == 'ecr-ci adapter jenkins' }
    int locate = all.findIndexOf { it.step == 'sh' && it.args.label == 'ecr-ci: find or install' }
    assert locate < 0 && bind >= 0 && adapter > bind  // ecrCi given: nothing to find; the token bound just before
    assert all[bind].args.bindings == [[binding: 'file', credentialsId: cfg.credentialId,
                                        variable: 'ECR_CI_TOKEN_FILE']]
    assert ('ECR_CI_INPUT_ROLEARN=' + cfg.roleArn) in all[adapter].env
    assert ('ECR_CI_INPUT_REGISTRIES=' + cfg.host) in all[adapter].env
    assert all[adapter].env.every { !it.startsWith('ECR_CI_TOKEN_FILE=') }  // bound, not a withEnv value
    for (Map s : stepShells()) {  // arguments reach Python only through the environment
        assert !s.args.script.contains(cfg.roleArn) && !s.args.script.contains(cfg.host)
    }
    assert jenkins.lines().any { it.contains("logged in to ${cfg.host}") }
}

test('the user config is carried over minus the target host, without credsStore, with its CLI plugins') {
    ecrLogin(login) {
        Map c = new groovy.json.JsonSlurper().parseText(
            sh(returnStdout: true, script: '"$ECR_TEST_PYTHON" "$ECR_TEST_INSPECT"')) as Map
        assert c.auths == ['other.example.com', cfg.host].sort()  // the host's entry is the fresh one: pushes work
        assert !c.credsStore
        assert cfg.userPlugins in c.plugins
        push('carried')
    }
}

test('write podman and helm: REGISTRY_AUTH_FILE and HELM_REGISTRY_CONFIG in the block, gone after') {
    List<String> files = []
    ecrLogin(login + [write: ['docker', 'podman', 'helm']]) {
        files = [env.DOCKER_CONFIG, env.REGISTRY_AUTH_FILE, env.HELM_REGISTRY_CONFIG]
        String block = new File(env.DOCKER_CONFIG).parent
        assert files[1].startsWith(block) && files[2].startsWith(block)
        assert new File(files[1]).isFile() && new File(files[2]).isFile()
        withEnv(['TAG=podman']) {  // skopeo with only the podman file
            sh 'DOCKER_CONFIG=/nonexistent skopeo copy --quiet --authfile "$REGISTRY_AUTH_FILE" ' +
               '--dest-cert-dir "$ECR_TEST_CERT_DIR" "oci:$ECR_TEST_LAYOUT:latest" "docker://$ECR_TEST_HOST/app:$TAG"'
        }
    }
    assert files.every { !new File(it).exists() } && leftovers().empty
}

test('when the block fails, its error propagates and the config is still removed') {
    String seen = null
    Throwable e = failure { ecrLogin(login) { seen = env.DOCKER_CONFIG; sh 'exit 7' } }
    assert e.message == 'script returned exit code 7'
    assert seen && !new File(seen).exists() && leftovers().empty
}

test('an abort in the block (InterruptedException) stays an abort and the config is removed') {
    String seen = null
    Throwable e = failure { ecrLogin(login) { seen = env.DOCKER_CONFIG; throw new InterruptedException('aborted') } }
    assert e instanceof InterruptedException
    assert seen && !new File(seen).exists() && leftovers().empty
}

test('parallel branches each get their own config, alive at the same time, both removed') {
    Map seen = [:].asSynchronized()
    java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2)
    Closure branch = { String name ->
        ecrLogin(login) {
            seen[name] = env.DOCKER_CONFIG
            both.countDown()
            assert both.await(60, java.util.concurrent.TimeUnit.SECONDS)  // both blocks are open now
            assert new File(seen.one).isDirectory() && new File(seen.two).isDirectory()
            push(name)
        }
    }
    parallel(one: { branch('one') }, two: { branch('two') })
    assert seen.one && seen.two && seen.one != seen.two
    assert !new File(seen.one).exists() && !new File(seen.two).exists() && leftovers().empty
}

test('Windows agent: the step runs bat only (ecr-ci found with where), and the block pushes with bat') {
    jenkins.unix = false
    String seen = null
    withEnv(["PATH+VENV=${cfg.venvBin}"]) {
        ecrLogin(login - [ecrCi: cfg.ecrCi]) {
            seen = env.DOCKER_CONFIG
            bat '@"%ECR_TEST_SKOPEO%" copy --quiet --dest-cert-dir "%ECR_TEST_CERT_DIR%" ' +
                '"oci:%ECR_TEST_LAYOUT%:latest" "docker://%ECR_TEST_HOST%/app:windows"'
        }
    }
    assert !jenkins.recorded('sh')
    assert stepShells()*.args*.label == ['ecr-ci: find or install', 'ecr-ci adapter jenkins']
    assert stepShells().every { it.step == 'bat' } && jenkins.recorded('bat').size() == 3
    assert seen && !new File(seen).exists() && leftovers().empty
}

test('a missing credential id fails naming idTokenCredentialsId, before the block runs') {
    Throwable e = failure { ecrLogin(login + [idTokenCredentialsId: 'nope']) { assert false : 'the block ran' } }
    assert e.message.startsWith("ecrLogin: idTokenCredentialsId 'nope': Could not find credentials entry")
    assert !jenkins.recorded().any { it.args.label == 'ecr-ci adapter jenkins' } && leftovers().empty
}

test('a bad role ARN fails with one line naming roleArn (not a CLI flag), before the block, leaving nothing') {
    Throwable e = failure { ecrLogin(login + [roleArn: 'arn:aws:iam::12:role/x']) { assert false : 'the block ran' } }
    assert e.message.startsWith('ecrLogin: ') && e.message.contains('roleArn') && !e.message.contains('--role-arn')
    assert e.message.contains("'arn:aws:iam::12:role/x'") && !e.message.contains('\n')
    assert jenkins.lines().any { it.contains('ecrLogin: error:') }  // the rendered diagnostics are in the log
    assert leftovers().empty
}

test('no registries fails naming the registries argument') {
    Throwable e = failure { ecrLogin(login - [registries: [cfg.host]]) { assert false : 'the block ran' } }
    assert e.message.contains('registries') && !e.message.contains('--registry') && leftovers().empty
}

test('ambient credentials: without idTokenCredentialsId the agent keys assume roleArn; no credential is bound') {
    withEnv(['AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE', 'AWS_SECRET_ACCESS_KEY=ambient-test-key']) {
        ecrLogin(login - [idTokenCredentialsId: cfg.credentialId]) {
            push('ambient')
        }
    }
    assert !jenkins.recorded('withCredentials') && leftovers().empty
    assert jenkins.lines().any { it.contains('identity: aws-credential-chain') }
}

/** What the step's find-or-install call answered (the ecr-ci it then runs). */
String located() {
    return jenkins.recorded('sh').find { it.args.label == 'ecr-ci: find or install' }?.result?.trim()
}

test('Linux agent without ecrCi: the ecr-ci on PATH is used') {
    withEnv(["PATH+VENV=${cfg.venvBin}"]) {
        ecrLogin(login - [ecrCi: cfg.ecrCi]) {
            push('path')
        }
    }
    assert located() == "${cfg.venvBin}/ecr-ci"
}

if (cfg.bootstrap) {
    test('bootstrap: installFrom makes the bundled bootstrap install ecr-ci into installDir, reused next time') {
        String installDir = new File(cfg.work.toString(), 'bootstrap-cache').path
        Map args = login - [ecrCi: cfg.ecrCi] + [installDir: installDir, installFrom: cfg.installFrom]
        ecrLogin(args) {
            push('bootstrap')
        }
        String first = located()
        assert first.startsWith(installDir + '/') && first.endsWith('/ecr-ci')
        List<String> written = jenkins.recorded('writeFile')*.args*.file
        String home = '/ecr-ci-bootstrap-' + ecrLoginScript.bootstrapVersion() + '/'
        assert written*.tokenize('/')*.last() == ['requirements.lock', '_build.py', 'bootstrap.sh']
        assert written.every { it.contains(home) }
        jenkins.steps.removeAll { it.case == jenkins.caseName }
        ecrLogin(args) {
            push('bootstrap-again')
        }
        assert located() == first && !jenkins.recorded('writeFile')  // the files are there: not written again
        assert leftovers().empty
    }
}

test('an ecrCi that is not ecr-ci fails with a clear error, before the block') {
    Throwable e = failure { ecrLogin(login + [ecrCi: '/bin/false']) { assert false : 'the block ran' } }
    assert e.message == "ecrLogin: '/bin/false adapter jenkins' ended without an answer (see its output above; " +
        'is it an ecr-ci with the Jenkins adapter?)'
    assert leftovers().empty
}

test('leak control') {
    // Not a test of the step: this block prints its credentials, so the wrapper can check the scan catches them.
    ecrLogin(login) {
        sh 'cat "$DOCKER_CONFIG/config.json"'
    }
}
