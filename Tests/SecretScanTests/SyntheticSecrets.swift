/// Fake, randomly generated secrets in each provider's format (never real ones).
struct SyntheticSecrets<G: RandomNumberGenerator> {
    var rng: G

    mutating func chars(_ alphabet: String, _ n: Int) -> String {
        let a = Array(alphabet)
        return String((0..<n).map { _ in a[Int.random(in: 0..<a.count, using: &rng)] })
    }

    static var upper: String { "ABCDEFGHIJKLMNOPQRSTUVWXYZ" }
    static var alnum: String { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" }
    static var hex: String { "0123456789abcdef" }

    /// (rule id, the line a program might print, the secret value within it)
    mutating func samples() -> [(rule: String, line: String, value: String)] {
        let aws = "AKIA" + chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        let awsSecret = chars(Self.alnum + "/+", 40)
        let api = chars(Self.alnum, 32)
        let bearer = chars(Self.alnum + "-._", 48)
        let password = "Tr0ub4dor" + chars(Self.alnum, 6)
        let gh = "ghp_" + chars(Self.alnum, 36)
        let glpat = "glpat-" + chars(Self.alnum, 20)
        let slack = "xoxb-" + chars("0123456789", 12) + "-" + chars(Self.alnum, 24)
        let stripe = "sk_live_" + chars(Self.alnum, 24)
        let google = "AIza" + chars(Self.alnum, 35)
        // Long tokens are matched on an identifying prefix: `value` is that prefix.
        let openaiPrefix = "sk-proj-" + chars(Self.alnum, 24) + "T3BlbkFJ"
        let openai = openaiPrefix + chars(Self.alnum, 24)
        let jwtPrefix = "eyJ" + chars(Self.alnum, 20) + ".eyJ" + chars(Self.alnum, 16)
        let jwt = jwtPrefix + chars(Self.alnum, 14) + "." + chars(Self.alnum, 43)
        let npm = "npm_" + chars(Self.alnum, 36)
        let vault = "hvs." + chars(Self.alnum, 30)
        let docker = "dckr_pat_" + chars(Self.alnum, 27)
        let sendgrid = "SG." + chars(Self.alnum, 22) + "." + chars(Self.alnum, 43)
        let doToken = "dop_v1_" + chars(Self.hex, 64)
        let email = "jane.doe" + chars("0123456789", 3) + "@corp-mail.acme-co.org"
        return [
            ("aws-access-key", "AWS_ACCESS_KEY_ID=\(aws)", aws),
            ("aws-secret-key", "aws_secret_access_key = \(awsSecret)", awsSecret),
            ("generic-api-key", "config: api_key=\"\(api)\" loaded", api),
            ("private-key", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"),
            ("email-address", "sending report to \(email).", email),
            ("bearer-token", "Authorization: Bearer \(bearer)", bearer),
            ("password", "db password: \(password)", password),
            ("github-token", "token \(gh) ok", gh),
            ("gitlab-pat", "GITLAB_TOKEN=\(glpat)", glpat),
            ("slack-token", "slack=\(slack)", slack),
            ("stripe-key", "stripe key \(stripe)", stripe),
            ("google-api-key", "maps key=\(google)", google),
            ("openai-key", "OPENAI_API_KEY=\(openai)", openaiPrefix),
            ("jwt", "cookie: session=\(jwt);", jwtPrefix),
            ("npm-token", "//registry.npmjs.org/:_authToken=\(npm)", npm),
            ("vault-token", "VAULT_TOKEN=\(vault)", vault),
            ("docker-hub-pat", "login with \(docker)", docker),
            ("sendgrid-key", "SENDGRID=\(sendgrid)", sendgrid),
            ("digitalocean-token", "do: \(doToken)", doToken),
        ]
    }
}
