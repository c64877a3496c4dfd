//! Addresses and networks for ExtAuth.TrustedSources, without a crate: IPv4/IPv6 CIDRs.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Peers on the unix socket (`@`).
    Unix,
    Net {
        addr: IpAddr,
        prefix: u8,
    },
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        let s = s.trim();
        if s == "@" {
            return Ok(Source::Unix);
        }
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{s:?}: prefix must be 0 to {max}"))?
            }
            None => max,
        };
        Ok(Source::Net { addr, prefix })
    }

    pub fn contains(&self, peer: Option<IpAddr>) -> bool {
        match (self, peer) {
            (Source::Unix, None) => true,
            (Source::Net { addr, prefix }, Some(peer)) => {
                let peer = match peer {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
                    v4 => v4,
                };
                match (addr, peer) {
                    (IpAddr::V4(a), IpAddr::V4(p)) => masked(u32::from(*a) as u128, u32::from(p) as u128, *prefix, 32),
                    (IpAddr::V6(a), IpAddr::V6(p)) => masked(u128::from(*a), u128::from(p), *prefix, 128),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

fn masked(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (a >> shift) == (b >> shift)
}

/// Comma-separated sources; entries trimmed, empty entries skipped, any invalid one an error.
pub fn parse_trusted_sources(list: &str) -> Result<Vec<String>, String> {
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(|e| Source::parse(e).map(|_| e.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn cidrs_bare_ips_and_unix() {
        let net = Source::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.9.9")), "IPv4-mapped IPv6 peers match IPv4 networks");
        let one = Source::parse(" 192.168.1.5 ").unwrap();
        assert!(one.contains(ip("192.168.1.5")) && !one.contains(ip("192.168.1.6")));
        let v6 = Source::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Source::parse("@").unwrap().contains(None));
        assert!(!net.contains(None));
        assert!(Source::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert_eq!(parse_trusted_sources(" 127.0.0.1, ,::1/128,@ ").unwrap().len(), 3);
        for bad in ["10.0.0.0/33", "host", "1.2.3.4/x", "::1/129"] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
