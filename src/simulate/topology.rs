//! The simulated estate's shape: zones, nodes, leaves, addresses, the approved flow matrix, the
//! injected anomalies and each night's VRF route set. Everything is a pure function of the
//! [`Scale`], the seed and the night, so any file can be regenerated on its own.
//!
//! ```text
//!   zone i (0-based)   name           pod pool          node subnet       AS           VRF
//!                      yellow, blue…  10.<16i>.0.0/12   172.<16+i>.0.0/16 64610+10i    upper-case name
//!   worker w's block   10.<16i + w/1024>.<(w/4)%256>.<(w%4)*64>/26    (lower half of the pool)
//!   VRF host route k   10.<16i + 8 + k/65536>.<(k/256)%256>.<k%256>/32 (upper half of the pool)
//!   nodes              rr1/rr2 .0.5/.0.6, leaves .0.1/.0.2, worker w 172.<16+i>.<1+w/250>.<1+w%250>
//!   shared             0.0.0.0/0 and the firewall transit 172.31.255.0/24 (one /31 per leaf+VRF)
//! ```

use std::net::Ipv4Addr;

/// The size of a simulated estate (`--scale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    S,
    M,
    L,
    XL,
}

impl Scale {
    pub fn parse(text: &str) -> Option<Scale> {
        match text.to_ascii_uppercase().as_str() {
            "S" => Some(Scale::S),
            "M" => Some(Scale::M),
            "L" => Some(Scale::L),
            "XL" => Some(Scale::XL),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::S => "s",
            Scale::M => "m",
            Scale::L => "l",
            Scale::XL => "xl",
        }
    }

    /// The declared numbers of the scale (issue 8).
    pub fn spec(self) -> ScaleSpec {
        let (zones, nodes, routes, lines, anomalies) = match self {
            Scale::S => (3, 60, 5_000, 20_000, 1),
            Scale::M => (4, 500, 40_000, 200_000, 2),
            Scale::L => (8, 4_000, 250_000, 2_000_000, 3),
            Scale::XL => (8, 4_000, 1_000_000, 10_000_000, 5),
        };
        ScaleSpec { zones, nodes, route_reflectors: 2 * zones, routes, panos_lines: lines, anomalies }
    }
}

/// What a scale declares: counts of the clean estate and anomalies of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleSpec {
    pub zones: usize,
    /// Kubernetes nodes (route reflectors included).
    pub nodes: usize,
    pub route_reflectors: usize,
    /// Routes in the zone VRFs of both border leaves together.
    pub routes: usize,
    /// PAN-OS TRAFFIC lines a night.
    pub panos_lines: u64,
    /// Route leaks, cross-zone peers and unapproved flows: this many of each.
    pub anomalies: usize,
}

const ZONE_NAMES: [&str; 8] = ["yellow", "blue", "green", "red", "purple", "orange", "teal", "grey"];

pub const LEAVES: [Leaf; 2] =
    [Leaf { name: "leaf1", asn: 65101, host: 1 }, Leaf { name: "leaf2", asn: 65102, host: 2 }];

pub const FIREWALL: &str = "fw-core";
pub const FIREWALL_ASN: u32 = 65000;

pub struct Leaf {
    pub name: &'static str,
    pub asn: u32,
    /// Last octet in every zone's node subnet; 1-based leaf number.
    pub host: u8,
}

impl Leaf {
    pub fn index(&self) -> usize {
        usize::from(self.host - 1)
    }

    pub fn addr_in(&self, zone: &Zone) -> Ipv4Addr {
        Ipv4Addr::new(172, zone.node_octet(), 0, self.host)
    }

    /// Firewall and leaf ends of the /31 between this leaf's VRF of `zone` and the firewall.
    pub fn transit(&self, zone: &Zone, zones: usize) -> (Ipv4Addr, Ipv4Addr) {
        let n = (2 * (self.index() * zones + zone.index)) as u8;
        (Ipv4Addr::new(172, 31, 255, n), Ipv4Addr::new(172, 31, 255, n + 1))
    }

    pub fn uplink(&self, zone: &Zone) -> String {
        format!("Ethernet49/1.{}", zone.vlan())
    }
}

#[derive(Clone, Debug)]
pub struct Zone {
    pub index: usize,
    pub name: &'static str,
    pub workers: usize,
}

impl Zone {
    pub fn vrf(&self) -> String {
        self.name.to_ascii_uppercase()
    }

    pub fn asn(&self) -> u32 {
        64610 + 10 * self.index as u32
    }

    fn pool_octet(&self) -> u8 {
        (16 * self.index) as u8
    }

    fn node_octet(&self) -> u8 {
        (16 + self.index) as u8
    }

    pub fn vlan(&self) -> usize {
        100 + self.index
    }

    pub fn pod_pool(&self) -> String {
        format!("10.{}.0.0/12", self.pool_octet())
    }

    pub fn node_subnet(&self) -> String {
        format!("172.{}.0.0/16", self.node_octet())
    }

    pub fn firewall_zone(&self) -> String {
        format!("trust-{}", self.name)
    }

    pub fn selector(&self) -> String {
        format!("zone == '{}'", self.name)
    }

    pub fn rr_cluster_id(&self) -> String {
        format!("244.0.{}.1", self.index)
    }

    pub fn rr_name(&self, j: usize) -> String {
        format!("{}-rr{}", self.name, j + 1)
    }

    pub fn rr_addr(&self, j: usize) -> Ipv4Addr {
        Ipv4Addr::new(172, self.node_octet(), 0, 5 + j as u8)
    }

    pub fn worker_name(&self, w: usize) -> String {
        format!("{}-w{}", self.name, w + 1)
    }

    pub fn worker_addr(&self, w: usize) -> Ipv4Addr {
        Ipv4Addr::new(172, self.node_octet(), 1 + (w / 250) as u8, 1 + (w % 250) as u8)
    }

    /// First address of worker `w`'s /26 pod block.
    pub fn block_base(&self, w: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.pool_octet() + (w / 1024) as u8, ((w / 4) % 256) as u8, ((w % 4) * 64) as u8)
    }

    pub fn block_cidr(&self, w: usize) -> String {
        format!("{}/26", self.block_base(w))
    }

    /// A pod address inside worker `w`'s block (`host` in 1..=62).
    pub fn pod(&self, w: usize, host: u8) -> Ipv4Addr {
        let b = self.block_base(w).octets();
        Ipv4Addr::new(b[0], b[1], b[2], b[3] + host)
    }

    /// The `k`th host route of the zone's VRF (a service / load-balancer address).
    pub fn host_route(&self, k: u32) -> String {
        format!("10.{}.{}.{}/32", u32::from(self.pool_octet()) + 8 + k / 65_536, (k / 256) % 256, k % 256)
    }
}

/// The zones of a scale, with their workers (nodes less the two route reflectors).
pub fn zones(spec: &ScaleSpec) -> Vec<Zone> {
    let per_zone = spec.nodes / spec.zones;
    (0..spec.zones).map(|index| Zone { index, name: ZONE_NAMES[index], workers: per_zone - 2 }).collect()
}

/// splitmix64: the simulator's only source of variation, seeded from the user's `--seed`.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` (n > 0) for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// An approved inter-zone flow: `allowedFlows` entry and the firewall rule that implements it.
#[derive(Clone, Debug)]
pub struct Flow {
    pub from: usize,
    pub to: usize,
    pub dport: u16,
    pub rule: String,
    pub app: App,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Ssl,
    Postgres,
    WebBrowsing,
}

/// Each zone may reach the next one on 443 and (with three zones or more) the one after on 5432.
pub fn approved_flows(zones: &[Zone]) -> Vec<Flow> {
    let n = zones.len();
    let mut flows = Vec::new();
    for z in zones {
        let next = &zones[(z.index + 1) % n];
        flows.push(Flow {
            from: z.index,
            to: next.index,
            dport: 443,
            rule: format!("{}-to-{}-https", z.name, next.name),
            app: App::Ssl,
        });
        if n >= 3 {
            let after = &zones[(z.index + 2) % n];
            flows.push(Flow {
                from: z.index,
                to: after.index,
                dport: 5432,
                rule: format!("{}-to-{}-db", z.name, after.name),
                app: App::Postgres,
            });
        }
    }
    flows
}

/// A route leak: zone `owner`'s worker block on leaf1 in zone `into`'s VRF.
#[derive(Clone, Debug)]
pub struct Leak {
    pub owner: usize,
    pub worker: usize,
    pub into: usize,
}

/// A hand-added BIRD peering: zone `rr_zone`'s first RR with a worker of zone `node_zone`.
#[derive(Clone, Debug)]
pub struct StrayPeer {
    pub rr_zone: usize,
    pub node_zone: usize,
    pub worker: usize,
}

/// The injected faults, placed by the seed; the same every night.
#[derive(Clone, Debug)]
pub struct Anomalies {
    pub leaks: Vec<Leak>,
    pub stray_peers: Vec<StrayPeer>,
    /// Unapproved flows: a rule `temp-<k>` letting one zone reach the next on an unapproved port.
    pub unapproved: Vec<Flow>,
}

impl Anomalies {
    pub fn place(zones: &[Zone], count: usize, seed: u64) -> Anomalies {
        let n = zones.len();
        let mut rng = Rng::new(seed, 0xA_0A11);
        let workers = zones[0].workers;
        let leaks = (0..count)
            .map(|k| Leak {
                owner: k % n,
                worker: k + rng.below((workers - count) as u64) as usize,
                into: (k + 1) % n,
            })
            .collect();
        let stray_peers = (0..count)
            .map(|k| StrayPeer {
                rr_zone: k % n,
                node_zone: (k + 1) % n,
                worker: k + rng.below((workers - count) as u64) as usize,
            })
            .collect();
        let unapproved = (0..count)
            .map(|k| {
                let from = (k + 1) % n;
                let to = (k + 2) % n;
                Flow {
                    from,
                    to,
                    // 8000-8999: no approved flow uses these ports.
                    dport: 8000 + (k as u16) * 100 + rng.below(100) as u16,
                    rule: format!("temp-{}-to-{}-{}", zones[from].name, zones[to].name, k + 1),
                    app: App::WebBrowsing,
                }
            })
            .collect();
        Anomalies { leaks, stray_peers, unapproved }
    }
}

/// How many host routes the table of zone `z` on `leaf` carries so that all zone VRF tables of
/// both leaves add up to exactly the scale's route count: the even share less the fixed routes
/// (default, node subnet, transit /31, worker blocks), the remainder one each on the first tables.
pub fn host_routes_in(spec: &ScaleSpec, zones: &[Zone], leaf: usize, z: usize) -> usize {
    let tables = LEAVES.len() * zones.len();
    let (each, extra) = (spec.routes / tables, spec.routes % tables);
    let t = leaf * zones.len() + z;
    each - 3 - zones[z].workers + usize::from(t < extra)
}

/// Size of zone `z`'s host route set: the largest of its tables (leaf1's); leaf2 uses a prefix.
pub fn host_route_set_size(spec: &ScaleSpec, zones: &[Zone], z: usize) -> usize {
    (0..LEAVES.len()).map(|l| host_routes_in(spec, zones, l, z)).max().unwrap_or(0)
}

/// The host-route indices of every zone on `night` (1-based): night 1 is 0..count; each later
/// night replaces `churn` of them, at seeded positions, with indices never used before.
pub fn host_route_sets(counts: &[usize], seed: u64, night: u32, churn: f64) -> Vec<Vec<u32>> {
    counts
        .iter()
        .enumerate()
        .map(|(z, &count)| {
            let mut set: Vec<u32> = (0..count as u32).collect();
            let mut fresh = count as u32;
            let changes = (churn * count as f64).round() as usize;
            for n in 2..=night {
                let mut rng = Rng::new(seed, 0xC4_0000 + (u64::from(n) << 8) + z as u64);
                for _ in 0..changes.min(count) {
                    let at = rng.below(count as u64) as usize;
                    set[at] = fresh;
                    fresh += 1;
                }
            }
            set
        })
        .collect()
}
