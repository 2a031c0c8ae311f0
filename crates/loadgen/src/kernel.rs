//! What Linux's `/proc` tells about a run: a process's CPU time and memory, the UDP counters of
//! every process, and each UDP socket's drops.

use std::collections::HashSet;
use std::time::Duration;

/// A process's CPU time (user + system, all its threads) so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // After the command name (in parentheses), utime and stime are the 12th and 13th
    // fields, in clock ticks of 10 ms.
    let rest = &stat[stat.rfind(')').expect("command name") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// A process's resident memory, in bytes.
pub fn resident_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The kernel's UDP counters (`/proc/net/snmp`), every process's together.
#[derive(Debug, Clone, Copy, Default)]
pub struct UdpCounters {
    /// Datagrams sent.
    pub sent: u64,
    /// Sends that failed for a full socket buffer.
    pub send_buffer_errors: u64,
}

impl UdpCounters {
    pub fn now() -> UdpCounters {
        let snmp = std::fs::read_to_string("/proc/net/snmp").expect("/proc/net/snmp");
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let (names, values) = (
            udp.next().expect("Udp names"),
            udp.next().expect("Udp values"),
        );
        let field = |name: &str| -> u64 {
            let i = names
                .split_whitespace()
                .position(|n| n == name)
                .unwrap_or_else(|| panic!("no {name} in /proc/net/snmp"));
            values
                .split_whitespace()
                .nth(i)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        UdpCounters {
            sent: field("OutDatagrams"),
            send_buffer_errors: field("SndbufErrors"),
        }
    }
}

/// One UDP socket of `/proc/net/udp`.
#[derive(Debug, Clone, Copy)]
pub struct UdpSocketRow {
    pub port: u16,
    pub inode: u64,
    /// Datagrams the kernel dropped at this socket: a full receive buffer, or a socket
    /// filter's verdict.
    pub drops: u64,
}

/// Every IPv4 UDP socket.
pub fn udp_sockets() -> Vec<UdpSocketRow> {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields.get(1)?.rsplit(':').next()?;
            Some(UdpSocketRow {
                port: u16::from_str_radix(port, 16).ok()?,
                inode: fields.get(9)?.parse().ok()?,
                drops: fields.last()?.parse().ok()?,
            })
        })
        .collect()
}

/// The datagrams dropped at the UDP sockets `pid` holds.
pub fn udp_drops_of(pid: u32) -> u64 {
    let inodes: HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    udp_sockets()
        .iter()
        .filter(|s| inodes.contains(&s.inode))
        .map(|s| s.drops)
        .sum()
}
