//! A real headless Chromium driven over WebDriver (Debian's chromium + chromium-driver).
//!
//! Chromium runs with the flags TOOLCHAIN.md lists for loopback WebRTC and no outside traffic;
//! the suites that use it run inside a network namespace with only `lo` (scripts/test.sh).

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A chromedriver process and one browser session.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Self {
        let port = free_port();
        let driver_bin =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        // One directory holds the profile and Chromium's temp files (its `scoped_dir`s, up to
        // 32 MB each, which a killed Chromium leaves behind), so dropping it removes both.
        let profile = crate::bins::temp_dir("chromium");
        let tmp = profile.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("creating {}: {e}", tmp.display()));
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning chromedriver (apt-get install chromium-driver)");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--allow-loopback-in-peer-connection",
                    "--disable-features=WebRtcHideLocalIpsWithMdns",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-default-apps",
                    "--disable-extensions", "--disable-quic", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.join("profile").display()),
                ]
            }
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let client = loop {
            let builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await;
            match builder {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("no WebDriver session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Self {
            client,
            driver,
            profile,
        }
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns a truthy value, for at most `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.eval(script).await;
            let truthy = !(v.is_null()
                || v == json!(false)
                || v == json!(0)
                || v == json!("")
                || v == json!([]));
            if truthy {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last value {v}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element matching `css` (waiting up to 10 s for it to appear).
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Clicks the element matching `css`, scrolled to the middle of the viewport first (so a
    /// sticky header cannot be in the way).
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        let arg = serde_json::to_value(&el).unwrap_or_else(|e| panic!("element {css}: {e}"));
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
                vec![arg],
            )
            .await
            .unwrap_or_else(|e| panic!("scrolling to {css}: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Replaces the text of the input matching `css` by typing `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Chooses the option with `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("selecting {value} in {css}: {e}"));
    }

    /// The text content of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Saves a PNG of the element matching `css` to `path`, scrolled to just below a sticky
    /// page header (so the header does not cover it).
    pub async fn screenshot(&self, css: &str, path: &std::path::Path) {
        let el = self.find(css).await;
        let arg = serde_json::to_value(&el).unwrap_or_else(|e| panic!("element {css}: {e}"));
        self.client
            .execute(
                "const r = arguments[0].getBoundingClientRect(); \
                 window.scrollTo({top: r.top + window.scrollY - 120, behavior: 'instant'});",
                vec![arg],
            )
            .await
            .unwrap_or_else(|e| panic!("scrolling to {css}: {e}"));
        let png = el
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot of {css}: {e}"));
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Sets the window size (responsive layouts).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resizing to {width}x{height}: {e}"));
    }

    /// Opens `reg`'s hub logged in and waits until its live stream is up; the admin token
    /// has left the address bar by then.
    pub async fn open_hub(&self, reg: &crate::RegistryProcess, timeout: Duration) {
        let token = crate::registry::ADMIN_TOKEN;
        self.client
            .goto(&reg.url(&format!("/?token={token}")))
            .await
            .expect("open the hub");
        self.wait_for(
            "the live stream",
            timeout,
            "const s = document.querySelector('#conn-state'); return s && s.textContent.includes('live')",
        )
        .await;
        let url = self.client.current_url().await.expect("url");
        assert!(
            !url.as_str().contains("token="),
            "token left in the address bar: {url}"
        );
    }

    /// Waits until the element matching `css` contains `needle`; its whole text.
    pub async fn wait_text(
        &self,
        what: &str,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> String {
        let script = format!(
            "const e = document.querySelector({css:?}); return e && e.textContent.includes({needle:?}) ? e.textContent : null"
        );
        self.wait_for(what, timeout, &script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Opens `reg`'s hub logged in, joins the mesh from it, and returns the tab's peer id.
    pub async fn join_hub(&self, reg: &crate::RegistryProcess) -> String {
        const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
        let token = crate::registry::ADMIN_TOKEN;
        self.client
            .goto(&reg.url(&format!("/?token={token}")))
            .await
            .expect("open page");
        // The token leaves the address bar at once.
        let url = self.client.current_url().await.expect("url");
        assert!(
            !url.as_str().contains("token="),
            "token left in the address bar: {url}"
        );
        self.wait_for(
            "the hub's wasm to load",
            JOIN_TIMEOUT,
            "return !!window.wasmBindings",
        )
        .await;
        self.eval("document.getElementById('join').click(); return true")
            .await;
        let id = self
            .wait_for(
                "a peer id",
                JOIN_TIMEOUT,
                "return window.meshPeer && window.meshPeer.id()",
            )
            .await;
        id.as_str().expect("peer id string").to_owned()
    }

    /// Evaluates `expr`, a JavaScript expression that may yield a promise; what it
    /// resolves to, or the rejection's message.
    pub async fn settle(&self, expr: &str) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             Promise.resolve().then(() => ({expr})).then(\n\
               v => done({{ok: v === undefined ? null : v}}),\n\
               e => done({{err: String((e && e.message) || e)}}));"
        );
        let v = self
            .client
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
        match v.get("err").and_then(Value::as_str) {
            Some(err) => Err(err.to_owned()),
            None => Ok(v["ok"].clone()),
        }
    }

    /// [`settle`](Self::settle), failing the test on a rejection.
    pub async fn resolve(&self, expr: &str) -> Value {
        self.settle(expr)
            .await
            .unwrap_or_else(|e| panic!("{expr} rejected: {e}"))
    }

    /// Loads the wasm peer's module as any page would (`import("/peer/peer.js")`, then its
    /// init) and leaves it in `window.peerModule`, for scripts that make peers of their own
    /// (`new peerModule.MeshPeer(origin, token)`).
    pub async fn load_peer_module(&self) {
        self.resolve(
            "import('/peer/peer.js').then(async m => { await m.default(); window.peerModule = m; return true; })",
        )
        .await;
    }

    /// Ends the session, then chromedriver and the profile (as dropping it does).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium is chromedriver's child: end its whole tree first so no browser outlives
        // the test and nothing writes into the profile while it is removed. A test that
        // panics drops its browser too, so its profile goes with it.
        let tree = descendants(self.driver.id());
        if !tree.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&tree).status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Every process below `pid` (chromium, its zygotes, renderers and utilities), from /proc:
/// all of them write into the profile, so all end before it is removed.
fn descendants(pid: u32) -> Vec<String> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((child, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.into_iter().skip(1).map(|p| p.to_string()).collect()
}
