//! A Kubernetes API server double: plain HTTP/1.1 on 127.0.0.1 (kube's connector accepts `http://`
//! cluster URLs), serving the wire formats of a real API server: discovery documents, paged lists
//! with `metadata.continue`, `Status` errors, CalicoNodeStatus create/get/delete, and `exec` as a
//! WebSocket upgrade with the `v4.channel.k8s.io` channel framing (written by hand: server frames
//! are unmasked, and the handshake needs only SHA-1 and base64).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the double read it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn params(&self, key: &str) -> Vec<String> {
        self.query.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// `GET /apis/…?limit=2` as a log line.
    pub fn line(&self) -> String {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, query.join("&"))
        }
    }
}

/// WebSocket messages of an exec session: `(channel, bytes)`.
pub type Frames = Vec<(u8, Vec<u8>)>;

pub enum Reply {
    Json {
        status: u16,
        body: Value,
        delay: Duration,
    },
    /// Upgrade to WebSocket and send these `(channel, bytes)` frames.
    Exec {
        frames: Vec<(u8, Vec<u8>)>,
    },
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::Json { status, body, delay: Duration::ZERO }
    }
}

pub type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Req>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler, log).await;
                });
            }
        });
        Server { addr, seen, task }
    }

    pub fn seen(&self) -> Vec<Req> {
        self.seen.lock().expect("log").clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.seen().iter().map(Req::line).collect()
    }

    /// A kubeconfig whose context `double` points here (bearer token `test-token`) and whose
    /// current context points at a closed port, so only an honoured `context` reaches the double.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\nclusters:\n\
             - name: double\n  cluster:\n    server: http://{}\n\
             - name: closed\n  cluster:\n    server: http://127.0.0.1:9\n\
             contexts:\n- name: double\n  context:\n    cluster: double\n    user: auditor\n\
             - name: elsewhere\n  context:\n    cluster: closed\n    user: auditor\n\
             users:\n- name: auditor\n  user:\n    token: test-token\n",
            self.addr
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }
}

async fn serve(mut stream: TcpStream, handler: Handler, log: Arc<Mutex<Vec<Req>>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    let req = Req { method, path, query, headers, body };
    log.lock().expect("log").push(req.clone());
    match handler(&req) {
        Reply::Json { status, body, delay } => {
            tokio::time::sleep(delay).await;
            let body = serde_json::to_vec(&body).expect("json");
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                reason(status),
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await
        }
        Reply::Exec { frames } => {
            let key = req.header("sec-websocket-key").unwrap_or_default();
            let offered = req.header("sec-websocket-protocol").unwrap_or_default();
            let protocol = if offered.contains("v4.channel.k8s.io") { "v4.channel.k8s.io" } else { "" };
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n",
                accept_key(key)
            );
            stream.write_all(head.as_bytes()).await?;
            // The API server opens every channel with an empty frame first.
            for channel in [1u8, 2, 3] {
                stream.write_all(&ws_frame(0x2, &[channel])).await?;
            }
            for (channel, data) in frames {
                let mut payload = vec![channel];
                payload.extend_from_slice(&data);
                stream.write_all(&ws_frame(0x2, &payload)).await?;
            }
            stream.write_all(&ws_frame(0x8, &1000u16.to_be_bytes())).await?;
            // Let the client read everything and answer the close before the socket goes.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            Ok(())
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// One unmasked WebSocket frame (FIN set).
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n < 65536 => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// RFC 6455 `Sec-WebSocket-Accept`.
pub fn accept_key(key: &str) -> String {
    let mut input = key.as_bytes().to_vec();
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1(&input))
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The fake cluster behind the server.

const USER: &str = "system:serviceaccount:zoneaudit:zoneaudit";

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// What the API server says when RBAC denies `verb` on a collection path.
pub fn forbidden(verb: &str, path: &str) -> Value {
    let (group, plural) = group_and_plural(path);
    let (resource, api_group) = if group.is_empty() {
        (plural.to_string(), String::new())
    } else {
        (format!("{plural}.{group}"), group.to_string())
    };
    let mut body = status(
        403,
        "Forbidden",
        &format!(
            "{resource} is forbidden: User \"{USER}\" cannot {verb} resource \"{plural}\" in API group \
             \"{api_group}\" at the cluster scope"
        ),
    );
    body["details"] = json!({"group": api_group, "kind": plural});
    body
}

fn group_and_plural(path: &str) -> (&str, &str) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["apis", group, _, plural, ..] => (group, plural),
        ["api", _, plural, ..] => ("", plural),
        _ => ("", ""),
    }
}

/// A collection as the API server lists it (`<Kind>List`, no `kind` on core items).
pub fn raw_list(api_version: &str, kind: &str, resource_version: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": format!("{kind}List"),
           "metadata": {"resourceVersion": resource_version}, "items": items})
}

/// A kubectl `List` fixture as the API server would serve it for `api_version`.
pub fn from_kubectl(fixture: &str, api_version: &str, kind: &str, strip_type_meta: bool) -> Value {
    let doc: Value = serde_json::from_str(fixture).expect("fixture json");
    let items = doc["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let mut item = item.clone();
            let obj = item.as_object_mut().expect("object");
            if strip_type_meta {
                obj.remove("apiVersion");
                obj.remove("kind");
            } else {
                obj.insert("apiVersion".into(), json!(api_version));
            }
            item
        })
        .collect();
    raw_list(api_version, kind, "4420", items)
}

#[derive(Default)]
pub struct FakeApi {
    /// Served by `/apis`, e.g. `crd.projectcalico.org/v1`.
    pub group_versions: Vec<&'static str>,
    /// What `/apis/projectcalico.org/v3` lists.
    pub v3_resources: Vec<&'static str>,
    /// Collection path -> the whole collection (a raw list document).
    pub collections: HashMap<String, Value>,
    /// Collection paths whose list RBAC denies.
    pub forbidden: Vec<String>,
    /// Collection paths that answer 500.
    pub failing: Vec<String>,
    /// Collection paths that answer only after this delay.
    pub slow: Vec<(String, Duration)>,
    /// How many more continued list requests answer 410 Expired.
    pub expire_continues: Mutex<u32>,
    /// CalicoNodeStatus: node -> polls after which calico-node has written the status (absent: never).
    pub status_after_polls: HashMap<String, u32>,
    /// CalicoNodeStatus: node -> the status calico-node writes.
    pub status_of: HashMap<String, Value>,
    /// RBAC allows creating CalicoNodeStatus but not reading it back.
    pub forbid_status_get: bool,
    /// name -> (object, polls so far).
    pub node_statuses: Mutex<HashMap<String, (Value, u32)>>,
    /// Pods in every namespace (filtered by label `k=v` and spec.nodeName).
    pub pods: Vec<Value>,
    /// CLI command (the last exec argument) -> frames.
    pub exec_replies: HashMap<String, Frames>,
}

impl FakeApi {
    pub async fn serve(self) -> (Server, Arc<FakeApi>) {
        let fake = Arc::new(self);
        let f = fake.clone();
        (Server::start(Arc::new(move |req: &Req| f.handle(req))).await, fake)
    }

    fn handle(&self, req: &Req) -> Reply {
        let not_found =
            || Reply::json(404, status(404, "NotFound", "the server could not find the requested resource"));
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api") => Reply::json(
                200,
                json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}),
            ),
            ("GET", "/apis") => Reply::json(200, self.group_list()),
            ("GET", "/apis/projectcalico.org/v3")
                if self.group_versions.contains(&"projectcalico.org/v3") =>
            {
                Reply::json(200, self.v3_resource_list())
            }
            ("GET", path) if path.ends_with("/exec") => self.exec(req),
            ("GET", path) if path.starts_with("/api/v1/namespaces/") && path.ends_with("/pods") => {
                self.pod_list(req)
            }
            ("GET", path)
                if self.collections.contains_key(path) || self.forbidden.iter().any(|p| p == path) =>
            {
                self.list(req)
            }
            ("POST", path) if path.ends_with("/caliconodestatuses") => self.create_status(req),
            ("GET", path) if path.contains("/caliconodestatuses/") => self.get_status(req),
            ("DELETE", path) if path.contains("/caliconodestatuses/") => self.delete_status(req),
            _ => not_found(),
        }
    }

    fn group_list(&self) -> Value {
        let mut groups =
            vec![json!({"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                                     "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}})];
        for gv in &self.group_versions {
            let (name, version) = gv.split_once('/').expect("group/version");
            let v = json!({"groupVersion": gv, "version": version});
            groups.push(json!({"name": name, "versions": [v.clone()], "preferredVersion": v}));
        }
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn v3_resource_list(&self) -> Value {
        let kinds = [
            ("bgppeers", "bgppeer", "BGPPeer"),
            ("bgpconfigurations", "bgpconfiguration", "BGPConfiguration"),
            ("ippools", "ippool", "IPPool"),
            ("blockaffinities", "blockaffinity", "BlockAffinity"),
            ("caliconodestatuses", "caliconodestatus", "CalicoNodeStatus"),
        ];
        let mut resources = Vec::new();
        for (plural, singular, kind) in kinds.iter().filter(|(p, _, _)| self.v3_resources.contains(p)) {
            resources.push(json!({"name": plural, "singularName": singular, "namespaced": false, "kind": kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}));
            resources
                .push(json!({"name": format!("{plural}/status"), "singularName": "", "namespaced": false,
                "kind": kind, "verbs": ["get", "patch", "update"]}));
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "projectcalico.org/v3",
               "resources": resources})
    }

    fn list(&self, req: &Req) -> Reply {
        let path = req.path.as_str();
        if self.forbidden.iter().any(|p| p == path) {
            return Reply::json(403, forbidden("list", path));
        }
        if self.failing.iter().any(|p| p == path) {
            return Reply::json(
                500,
                status(500, "InternalError", "Internal error occurred: etcdserver: request timed out"),
            );
        }
        let delay = self.slow.iter().find(|(p, _)| p == path).map(|(_, d)| *d).unwrap_or_default();
        let doc = &self.collections[path];
        let items = doc["items"].as_array().cloned().unwrap_or_default();
        let rv = doc["metadata"]["resourceVersion"].clone();
        let start = match req.param("continue") {
            None => 0,
            Some(token) => {
                let mut expire = self.expire_continues.lock().expect("lock");
                if *expire > 0 {
                    *expire -= 1;
                    let mut body = status(
                        410,
                        "Expired",
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    );
                    body["metadata"] = json!({"continue": token});
                    return Reply::json(410, body);
                }
                let decoded = base64::engine::general_purpose::STANDARD.decode(token).expect("our token");
                let token: Value = serde_json::from_slice(&decoded).expect("token json");
                let last = token["start"].as_str().expect("start").trim_end_matches('\0').to_string();
                items.iter().position(|i| i["metadata"]["name"] == last.as_str()).expect("known item") + 1
            }
        };
        let limit: usize = req.param("limit").and_then(|l| l.parse().ok()).unwrap_or(usize::MAX);
        let end = start.saturating_add(limit).min(items.len());
        let mut metadata = json!({"resourceVersion": rv});
        if end < items.len() {
            let last = items[end - 1]["metadata"]["name"].as_str().expect("name");
            let token = json!({"v": "meta.k8s.io/v1", "rv": 4420, "start": format!("{last}\0")});
            metadata["continue"] = json!(base64::engine::general_purpose::STANDARD.encode(token.to_string()));
            metadata["remainingItemCount"] = json!(items.len() - end);
        }
        let mut page = doc.clone();
        page["metadata"] = metadata;
        page["items"] = Value::Array(items[start..end].to_vec());
        Reply::Json { status: 200, body: page, delay }
    }

    fn create_status(&self, req: &Req) -> Reply {
        let mut obj: Value = serde_json::from_slice(&req.body).expect("create body");
        let name = obj["metadata"]["name"].as_str().expect("name").to_string();
        obj["metadata"]["uid"] = json!(format!("uid-{name}"));
        obj["metadata"]["resourceVersion"] = json!("918300");
        obj["metadata"]["creationTimestamp"] = json!("2026-08-22T09:02:07Z");
        obj["metadata"]["generation"] = json!(1);
        self.node_statuses.lock().expect("lock").insert(name, (obj.clone(), 0));
        Reply::json(201, obj)
    }

    fn get_status(&self, req: &Req) -> Reply {
        let (collection, name) = req.path.rsplit_once('/').expect("name");
        if self.forbid_status_get {
            let mut body = forbidden("get", collection);
            body["message"] = json!(format!(
                "caliconodestatuses.crd.projectcalico.org \"{name}\" is forbidden: User \"{USER}\" cannot get \
                 resource \"caliconodestatuses\" in API group \"crd.projectcalico.org\" at the cluster scope"
            ));
            return Reply::json(403, body);
        }
        let mut all = self.node_statuses.lock().expect("lock");
        let Some((obj, polls)) = all.get_mut(name) else {
            return Reply::json(
                404,
                status(
                    404,
                    "NotFound",
                    &format!("caliconodestatuses.crd.projectcalico.org \"{name}\" not found"),
                ),
            );
        };
        *polls += 1;
        let node = obj["spec"]["node"].as_str().unwrap_or_default().to_string();
        if self.status_after_polls.get(&node).is_some_and(|after| *polls >= *after) {
            let mut s = self.status_of.get(&node).cloned().unwrap_or_else(|| json!({}));
            s["lastUpdated"] = json!("2026-08-22T09:02:17Z");
            obj["status"] = s;
        }
        Reply::json(200, obj.clone())
    }

    fn delete_status(&self, req: &Req) -> Reply {
        let (_, name) = req.path.rsplit_once('/').expect("name");
        match self.node_statuses.lock().expect("lock").remove(name) {
            Some(_) => Reply::json(
                200,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": "crd.projectcalico.org", "kind": "caliconodestatuses", "uid": format!("uid-{name}")}}),
            ),
            None => Reply::json(
                404,
                status(
                    404,
                    "NotFound",
                    &format!("caliconodestatuses.crd.projectcalico.org \"{name}\" not found"),
                ),
            ),
        }
    }

    fn pod_list(&self, req: &Req) -> Reply {
        let namespace = req.path.split('/').nth(4).unwrap_or_default();
        let node =
            req.param("fieldSelector").and_then(|f| f.strip_prefix("spec.nodeName=")).unwrap_or_default();
        let (label, value) = req.param("labelSelector").and_then(|l| l.split_once('=')).unwrap_or_default();
        let items: Vec<Value> = self
            .pods
            .iter()
            .filter(|p| {
                p["metadata"]["namespace"] == namespace
                    && p["spec"]["nodeName"] == node
                    && p["metadata"]["labels"][label] == value
            })
            .cloned()
            .collect();
        Reply::json(200, raw_list("v1", "Pod", "77001", items))
    }

    fn exec(&self, req: &Req) -> Reply {
        let command = req.params("command");
        let cli = command.last().cloned().unwrap_or_default();
        match self.exec_replies.get(&cli) {
            Some(frames) => Reply::Exec { frames: frames.clone() },
            None => Reply::Exec {
                frames: vec![(2, format!("{cli}: not found\n").into_bytes()), (3, exit_status(127))],
            },
        }
    }
}

/// The status channel message of an exec that ended with `code`.
pub fn exit_status(code: u32) -> Vec<u8> {
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
               "message": format!("command terminated with non-zero exit code: error executing command [...], exit code {code}"),
               "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    status.to_string().into_bytes()
}

/// A calico-node pod as the API lists it (trimmed to what the exec transport reads).
pub fn calico_node_pod(name: &str, node: &str, phase: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "calico-system", "labels": {"k8s-app": "calico-node"}},
           "spec": {"nodeName": node, "initContainers": [{"name": "install-cni"}],
                    "containers": [{"name": "calico-node"}, {"name": "csi-node-driver"}]},
           "status": {"phase": phase}})
}

#[test]
fn websocket_accept_key_matches_rfc_6455() {
    assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
