//! Host-based authentication rules (`--hba FILE`), in the spirit of
//! PostgreSQL's pg_hba.conf: which clients may connect, and how they
//! prove who they are.
//!
//! One rule per line, `#` starts a comment, fields are separated by
//! blanks:
//!
//! ```text
//! # TYPE     DATABASE  ROLE   ADDRESS        METHOD
//! hostssl    all       all    0.0.0.0/0      scram-sha-256
//! host       all       all    127.0.0.1/32   scram-sha-256
//! hostnossl  all       all    all            reject
//! ```
//!
//! - TYPE: `host` (TLS or not), `hostssl` (TLS only), `hostnossl`
//!   (plaintext only).
//! - DATABASE, ROLE: `all` or a comma-separated list of names.
//! - ADDRESS: `all`, an address (`10.1.2.3`, `::1`) or a CIDR block
//!   (`10.0.0.0/8`).
//! - METHOD: `scram-sha-256`, `password` (cleartext, `hostssl` lines
//!   only), `trust` (loopback addresses only) or `reject`.
//!
//! The first rule that matches a connection decides; a connection no rule
//! matches is refused.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// How a matching client authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    ScramSha256,
    /// Cleartext password (over TLS), checked against the argon2id hash.
    Password,
    /// No password: only allowed for loopback addresses.
    Trust,
    Reject,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::ScramSha256 => "scram-sha-256",
            Method::Password => "password",
            Method::Trust => "trust",
            Method::Reject => "reject",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnType {
    Any,
    Ssl,
    NoSsl,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Names {
    All,
    List(Vec<String>),
}

impl Names {
    fn matches(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::List(names) => names.iter().any(|n| n == name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    conn: ConnType,
    databases: Names,
    roles: Names,
    /// `None` matches every address.
    address: Option<IpNet>,
    method: Method,
}

/// A connection, as far as the rules care.
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    pub addr: IpAddr,
    pub tls: bool,
    pub database: &'a str,
    pub role: &'a str,
}

/// The rule set. [`Hba::default`] is the behaviour without `--hba`:
/// SCRAM-SHA-256 for everyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hba {
    rules: Vec<Rule>,
}

impl Default for Hba {
    fn default() -> Hba {
        Hba {
            rules: vec![Rule {
                conn: ConnType::Any,
                databases: Names::All,
                roles: Names::All,
                address: None,
                method: Method::ScramSha256,
            }],
        }
    }
}

/// A rules file that cannot be used; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum HbaError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
}

impl Hba {
    /// Reads and checks a rules file. `tls` says whether the server has
    /// TLS configured (`hostssl` lines need it).
    pub fn load(path: &Path, tls: bool) -> Result<Hba, HbaError> {
        let text = std::fs::read_to_string(path).map_err(|source| HbaError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Hba::parse(&text, tls).map_err(|(line, message)| HbaError::Line {
            path: path.display().to_string(),
            line,
            message,
        })
    }

    /// Parses rules text; errors carry the 1-based line number.
    pub fn parse(text: &str, tls: bool) -> Result<Hba, (usize, String)> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("");
            let fields: Vec<&str> = content.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let rule = parse_rule(&fields, tls).map_err(|m| (line, m))?;
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err((0, "no rules: every connection would be refused".into()));
        }
        Ok(Hba { rules })
    }

    /// The method of the first rule matching `client`, or `None` when no
    /// rule does (the connection is refused).
    pub fn method_for(&self, client: &Client<'_>) -> Option<Method> {
        let addr = canonical(client.addr);
        self.rules
            .iter()
            .find(|r| {
                let conn = match r.conn {
                    ConnType::Any => true,
                    ConnType::Ssl => client.tls,
                    ConnType::NoSsl => !client.tls,
                };
                conn && r.databases.matches(client.database)
                    && r.roles.matches(client.role)
                    && r.address.is_none_or(|net| net.contains(&addr))
            })
            .map(|r| r.method)
    }
}

/// IPv4 clients on a dual-stack socket show up as `::ffff:a.b.c.d`.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn parse_rule(fields: &[&str], tls: bool) -> Result<Rule, String> {
    let [conn, databases, roles, address, method] = fields else {
        return Err(format!(
            "expected 5 fields (TYPE DATABASE ROLE ADDRESS METHOD), found {}",
            fields.len()
        ));
    };
    let conn = match *conn {
        "host" => ConnType::Any,
        "hostssl" => ConnType::Ssl,
        "hostnossl" => ConnType::NoSsl,
        "local" => {
            return Err("\"local\" rules are not supported: joltdb listens on TCP only".into())
        }
        other => {
            return Err(format!(
                "unknown connection type \"{other}\" (expected host, hostssl or hostnossl)"
            ))
        }
    };
    if conn == ConnType::Ssl && !tls {
        return Err(
            "hostssl rule cannot match: TLS is not configured (--tls-cert, --tls-key)".into(),
        );
    }
    let address = match *address {
        "all" => None,
        text => Some(parse_address(text)?),
    };
    let method = match *method {
        "scram-sha-256" => Method::ScramSha256,
        "password" => Method::Password,
        "trust" => Method::Trust,
        "reject" => Method::Reject,
        "md5" => {
            return Err("method \"md5\" is not supported; use scram-sha-256".into());
        }
        other => {
            return Err(format!(
                "unknown method \"{other}\" (expected scram-sha-256, password, trust or reject)"
            ))
        }
    };
    if method == Method::Password && conn != ConnType::Ssl {
        return Err(
            "method \"password\" sends the password in clear; it is allowed only on hostssl rules"
                .into(),
        );
    }
    if method == Method::Trust && !address.is_some_and(is_loopback) {
        return Err(
            "method \"trust\" is allowed only for loopback addresses (127.0.0.0/8 or ::1)".into(),
        );
    }
    Ok(Rule {
        conn,
        databases: parse_names(databases, "database")?,
        roles: parse_names(roles, "role")?,
        address,
        method,
    })
}

fn parse_names(field: &str, what: &str) -> Result<Names, String> {
    if field == "all" {
        return Ok(Names::All);
    }
    let names: Vec<String> = field.split(',').map(str::to_owned).collect();
    if names.iter().any(String::is_empty) {
        return Err(format!("empty {what} name in \"{field}\""));
    }
    Ok(Names::List(names))
}

fn parse_address(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "address \"{text}\" has bits set to the right of the mask (did you mean {}?)",
                net.trunc()
            ));
        }
        return Ok(net);
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("invalid address \"{text}\" (expected all, an IP address or CIDR)"))
}

fn is_loopback(net: IpNet) -> bool {
    match net {
        IpNet::V4(v4) => v4.prefix_len() >= 8 && v4.network().is_loopback(),
        IpNet::V6(v6) => v6.prefix_len() == 128 && v6.network().is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client<'a>(addr: &str, tls: bool, database: &'a str, role: &'a str) -> Client<'a> {
        Client {
            addr: addr.parse().unwrap(),
            tls,
            database,
            role,
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let hba = Hba::parse(
            "# comment\n\
             host  all  mallory  all  reject\n\
             hostssl  app,reports  all  10.0.0.0/8  password  # trailing comment\n\
             host  all  all  127.0.0.1  trust\n\
             hostnossl  all  all  all  reject\n\
             host  all  all  ::/0  scram-sha-256\n\
             host  all  all  0.0.0.0/0  scram-sha-256\n",
            true,
        )
        .unwrap();
        let m = |c| hba.method_for(&c);
        assert_eq!(
            m(client("127.0.0.1", false, "x", "mallory")),
            Some(Method::Reject)
        );
        assert_eq!(
            m(client("10.1.2.3", true, "app", "ann")),
            Some(Method::Password)
        );
        assert_eq!(
            m(client("10.1.2.3", true, "other", "ann")),
            Some(Method::ScramSha256)
        );
        assert_eq!(
            m(client("127.0.0.1", false, "x", "ann")),
            Some(Method::Trust)
        );
        // IPv4-mapped IPv6 is treated as IPv4.
        assert_eq!(
            m(client("::ffff:127.0.0.1", false, "x", "ann")),
            Some(Method::Trust)
        );
        assert_eq!(
            m(client("10.1.2.3", false, "app", "ann")),
            Some(Method::Reject)
        );
        assert_eq!(
            m(client("2001:db8::1", true, "x", "ann")),
            Some(Method::ScramSha256)
        );
    }

    #[test]
    fn no_match_is_none() {
        let hba = Hba::parse("hostssl all all all scram-sha-256", true).unwrap();
        assert_eq!(hba.method_for(&client("127.0.0.1", false, "d", "r")), None);
        assert_eq!(
            Hba::default().method_for(&client("192.0.2.1", false, "d", "r")),
            Some(Method::ScramSha256)
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("host all all all\n", 1, "expected 5 fields"),
            ("\n# x\nhost all all all md5\n", 3, "md5"),
            ("host all all all password\n", 1, "only on hostssl"),
            ("host all all 0.0.0.0/0 trust\n", 1, "loopback"),
            ("host all all all trust\n", 1, "loopback"),
            ("host all all 10.0.0.1/8 reject\n", 1, "bits set"),
            ("host all all 10.0.0/8 reject\n", 1, "invalid address"),
            ("hosts all all all reject\n", 1, "unknown connection type"),
            ("host all all all ident\n", 1, "unknown method"),
            ("host a,,b all all reject\n", 1, "empty database"),
            ("local all all all trust\n", 1, "TCP only"),
            ("# nothing\n", 0, "no rules"),
        ];
        for (text, line, needle) in cases {
            let (l, message) = Hba::parse(text, true).unwrap_err();
            assert_eq!(l, line, "{text:?}: {message}");
            assert!(message.contains(needle), "{text:?}: {message}");
        }
        let (_, message) = Hba::parse("hostssl all all all reject", false).unwrap_err();
        assert!(message.contains("TLS is not configured"), "{message}");
    }

    #[test]
    fn readme_example_is_valid() {
        let readme = include_str!("../../README.md");
        let start = readme.find("# TYPE     DATABASE  ROLE    ADDRESS").unwrap();
        let end = start + readme[start..].find("```").unwrap();
        let hba = Hba::parse(&readme[start..end], true).unwrap();
        let m = |c| hba.method_for(&c);
        assert_eq!(m(client("127.0.0.1", false, "d", "r")), Some(Method::Trust));
        assert_eq!(
            m(client("10.2.3.4", true, "d", "r")),
            Some(Method::ScramSha256)
        );
        assert_eq!(
            m(client("192.0.2.1", true, "reports", "alice")),
            Some(Method::Password)
        );
        assert_eq!(
            m(client("192.0.2.1", false, "d", "r")),
            Some(Method::Reject)
        );
        assert_eq!(m(client("192.0.2.1", true, "d", "r")), None);
    }

    #[test]
    fn trust_allows_loopback_only() {
        assert!(Hba::parse("host all all 127.0.0.1/32 trust", false).is_ok());
        assert!(Hba::parse("host all all 127.0.0.0/8 trust", false).is_ok());
        assert!(Hba::parse("host all all ::1 trust", false).is_ok());
        assert!(Hba::parse("host all all ::/0 trust", false).is_err());
        assert!(Hba::parse("host all all 126.0.0.0/7 trust", false).is_err());
    }
}
