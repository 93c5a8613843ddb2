/// The built-in rule set: the six classes the audit service started with, plus
/// common provider tokens (the ones gitleaks' default config covers most often).
///
/// Every token pattern is framed by explicit boundaries: leftmost start-of-match
/// then gives exactly one (start, end) per secret, which is what lets a stream
/// scanner report each secret once. Boundary characters are trimmed off the value.
/// A few long tokens (JWT, OpenAI, PyPI) are matched on a bounded, identifying
/// prefix: start-of-match tracking makes long bounded repeats too large to compile,
/// and the prefix is enough to detect and to redact.
public enum BuiltInRules {
    /// Start of data or a character that cannot continue a token.
    static let lead = "(?:^|[^A-Za-z0-9_])"
    /// A character that cannot continue a token, or end of data.
    static let trail = "(?:[^A-Za-z0-9_]|$)"
    /// Likewise for tokens that may contain `-` and `.`.
    static let trailDotted = "(?:[^A-Za-z0-9_.\\-]|$)"
    /// End of an assigned value: whitespace, a quote, a separator, or end of data.
    static let valueEnd = "(?:[\\s\"',;]|$)"

    static func token(_ body: String, dotted: Bool = false) -> String { lead + body + (dotted ? trailDotted : trail) }

    public static let all: [SecretRule] = [
        // The six original classes.
        SecretRule(id: "aws-access-key", description: "AWS access key ID", severity: .critical,
                   pattern: token("(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
                   keywords: ["a3t", "akia", "asia", "abia", "acca"], entropy: 3.0),
        SecretRule(id: "aws-secret-key", description: "AWS secret access key", severity: .critical,
                   pattern: "aws[A-Za-z0-9_ .\\-]{0,20}(?:secret|access)[A-Za-z0-9_ .\\-]{0,20}[:=]\\s{0,4}[\"']?[A-Za-z0-9/+=]{40}" + valueEnd,
                   keywords: ["aws"], entropy: 4.0, value: .afterAssignment, caseless: true),
        SecretRule(id: "generic-api-key", description: "Generic API key or token assignment", severity: .high,
                   pattern: "(?:api[_\\-]?key|apikey|secret[_\\-]?key|access[_\\-]?token|auth[_\\-]?token|client[_\\-]?secret|api[_\\-]?secret)"
                       + "[\"']?\\s{0,2}[:=]\\s{0,2}[\"']?[A-Za-z0-9_\\-./+=]{16,64}" + valueEnd,
                   keywords: ["key", "token", "secret"], entropy: 3.5, value: .afterAssignment, caseless: true),
        SecretRule(id: "private-key", description: "Private key block", severity: .critical,
                   pattern: "-----BEGIN[ A-Z0-9_\\-]{0,32}PRIVATE KEY(?: BLOCK)?-----",
                   keywords: ["-----begin"]),
        SecretRule(id: "email-address", description: "E-mail address", severity: .low,
                   pattern: "[A-Za-z0-9_%+\\-]@[A-Za-z0-9.\\-]{1,40}\\.[A-Za-z]{2,12}(?:[^A-Za-z0-9\\-]|$)",
                   keywords: ["@"], extendLeft: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-@"),
        SecretRule(id: "bearer-token", description: "HTTP bearer token", severity: .high,
                   pattern: "bearer\\s{1,4}[A-Za-z0-9\\-._~+/]{20,1024}=*" + valueEnd,
                   keywords: ["bearer"], entropy: 3.0, value: .afterSpace, caseless: true),
        SecretRule(id: "password", description: "Password assignment", severity: .high,
                   pattern: "(?:password|passwd|pwd)[\"']?\\s{0,2}[:=]\\s{0,2}[\"']?[^\\s\"',;]{6,64}" + valueEnd,
                   keywords: ["pass", "pwd"], value: .afterAssignment, caseless: true),

        // Provider tokens.
        SecretRule(id: "github-token", description: "GitHub personal access / OAuth / app token", severity: .critical,
                   pattern: token("gh[pousr]_[A-Za-z0-9]{36}"), keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], entropy: 3.0),
        SecretRule(id: "github-fine-grained-pat", description: "GitHub fine-grained personal access token", severity: .critical,
                   pattern: token("github_pat_[A-Za-z0-9_]{82}"), keywords: ["github_pat_"], entropy: 3.0),
        SecretRule(id: "gitlab-pat", description: "GitLab personal access token", severity: .critical,
                   pattern: token("glpat-[A-Za-z0-9_\\-]{20}", dotted: true), keywords: ["glpat-"], entropy: 3.0),
        SecretRule(id: "slack-token", description: "Slack bot/user/app token", severity: .critical,
                   pattern: token("xox[baprs]-[A-Za-z0-9\\-]{10,72}", dotted: true), keywords: ["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"]),
        SecretRule(id: "slack-webhook", description: "Slack incoming webhook URL", severity: .high,
                   pattern: "hooks\\.slack\\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}" + trail,
                   keywords: ["hooks.slack.com"]),
        SecretRule(id: "stripe-key", description: "Stripe secret or restricted key", severity: .critical,
                   pattern: token("(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}"), keywords: ["sk_", "rk_"], entropy: 3.0),
        SecretRule(id: "google-api-key", description: "Google API key", severity: .high,
                   pattern: token("AIza[0-9A-Za-z_\\-]{35}", dotted: true), keywords: ["aiza"], entropy: 3.0),
        SecretRule(id: "openai-key", description: "OpenAI API key", severity: .critical,
                   pattern: lead + "sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\\-]{20,74}T3BlbkFJ",
                   keywords: ["t3blbkfj"], entropy: 3.0),
        SecretRule(id: "anthropic-key", description: "Anthropic API key", severity: .critical,
                   pattern: token("sk-ant-(?:api|admin)0[0-9]-[A-Za-z0-9_\\-]{80,100}", dotted: true), keywords: ["sk-ant-"], entropy: 3.0),
        SecretRule(id: "jwt", description: "JSON Web Token", severity: .medium,
                   pattern: lead + "eyJ[A-Za-z0-9_\\-]{10,100}\\.eyJ[A-Za-z0-9_\\-]{16}",
                   keywords: ["eyj"], entropy: 3.0),
        SecretRule(id: "npm-token", description: "npm access token", severity: .critical,
                   pattern: token("npm_[A-Za-z0-9]{36}"), keywords: ["npm_"], entropy: 3.0),
        SecretRule(id: "pypi-token", description: "PyPI upload token", severity: .critical,
                   pattern: lead + "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\\-]{50}", keywords: ["pypi-ageichlwas5vcmc"]),
        SecretRule(id: "sendgrid-key", description: "SendGrid API key", severity: .high,
                   pattern: token("SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}", dotted: true), keywords: ["sg."], entropy: 3.0),
        SecretRule(id: "twilio-key", description: "Twilio API key", severity: .high,
                   pattern: token("SK[0-9a-fA-F]{32}"), keywords: ["sk"], entropy: 3.0),
        SecretRule(id: "digitalocean-token", description: "DigitalOcean personal access token", severity: .critical,
                   pattern: token("do[pro]_v1_[a-f0-9]{64}"), keywords: ["dop_v1_", "doo_v1_", "dor_v1_"]),
        SecretRule(id: "shopify-token", description: "Shopify access token", severity: .high,
                   pattern: token("shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"), keywords: ["shpat_", "shpca_", "shppa_", "shpss_"]),
        SecretRule(id: "vault-token", description: "HashiCorp Vault service token", severity: .critical,
                   pattern: token("hvs\\.[A-Za-z0-9_\\-]{24,100}", dotted: true), keywords: ["hvs."], entropy: 3.0),
        SecretRule(id: "docker-hub-pat", description: "Docker Hub personal access token", severity: .high,
                   pattern: token("dckr_pat_[A-Za-z0-9_\\-]{27}", dotted: true), keywords: ["dckr_pat_"]),
        SecretRule(id: "huggingface-token", description: "Hugging Face access token", severity: .high,
                   pattern: token("hf_[A-Za-z]{34}"), keywords: ["hf_"], entropy: 3.0),
        SecretRule(id: "databricks-token", description: "Databricks personal access token", severity: .critical,
                   pattern: token("dapi[a-f0-9]{32}(?:-[0-9])?", dotted: true), keywords: ["dapi"], entropy: 3.0),
        SecretRule(id: "linear-api-key", description: "Linear API key", severity: .high,
                   pattern: token("lin_api_[A-Za-z0-9]{40}"), keywords: ["lin_api_"], entropy: 3.0),
        SecretRule(id: "telegram-bot-token", description: "Telegram bot token", severity: .high,
                   pattern: token("[0-9]{8,10}:AA[A-Za-z0-9_\\-]{33}", dotted: true), keywords: [":aa"], entropy: 3.0),
        SecretRule(id: "age-secret-key", description: "age encryption secret key", severity: .critical,
                   pattern: token("AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", dotted: true), keywords: ["age-secret-key-1"]),
        // Matched on its identifying prefix (the 88-character key is too long to track).
        SecretRule(id: "azure-storage-key", description: "Azure storage account key in a connection string", severity: .critical,
                   pattern: "AccountKey=[A-Za-z0-9+/]{40}", keywords: ["accountkey="], entropy: 4.0, value: .afterAssignment),
        // scheme://user:password@host, as in database URLs; placeholders ($, {, <, *) are not
        // passwords. Too long to track its start: it finds it by walking left from the end.
        SecretRule(id: "url-credentials", description: "Password in a URL (scheme://user:password@host)", severity: .high,
                   pattern: "[A-Za-z0-9]://[A-Za-z0-9._%\\-]{1,64}:[^\\s/@$\\{\\}<>*\"'`]{3,128}@[A-Za-z0-9\\[]",
                   keywords: ["://"],
                   extendLeft: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-_%:/@!#&(),;?~^|[]"),
    ]
}
