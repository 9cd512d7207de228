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

Map login = [roleArn: cfg.roleArn, registries: [cfg.host], idTokenCredentialsId: cfg.credentialId, region: 'us-east-1']

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
test('an unknown argument fails, naming it and the closest valid name, before anything runs') {
    Throwable e = failure { ecrLogin(rolearn: cfg.roleArn) { assert false } }
    assert e.message.contains("unknown argument 'rolearn'") && e.message.contains("'roleArn'")
    e = failure { ecrLogin(idTokenCredentialId: 'x') { assert false } }
    assert e.message.contains("'idTokenCredentialsId'")
    assert !jenkins.recorded('sh') && !jenkins.recorded('withCredentials')
}
