//! The tab's replica on disk: IndexedDB database `meshwork-memory` (ADR 0019).
//!
//! - Two object stores keyed by event id: `headers` (the signed header as JSON, the event
//!   without its body) and `bodies` (the value's text). Forgetting deletes from `bodies` and
//!   keeps the header, which still verifies.
//! - A local write's transaction asks for `durability: "strict"` (Chromium's default is
//!   relaxed: the data may still be in the OS cache when the transaction completes), so
//!   `memory_written` follows the flush; received events use the default (a lost one is
//!   fetched again by sync).
//! - One transaction per step: a forget and its erasures commit together.
//!
//! The browser's storage engine has no secure delete: a deleted body leaves the page-visible
//! database at once, but may linger in the engine's files until it compacts (ADR 0019).

use futures_channel::oneshot;
use meshwork_protocol::memory::{Applied, Event};
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB_NAME: &str = "meshwork-memory";
const HEADERS: &str = "headers";
const BODIES: &str = "bodies";

/// Whether a write must be on disk when its transaction completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed before completion: local writes (`memory_written` follows).
    Strict,
    /// The browser's default: received events (sync fetches a lost one again).
    Default,
}

/// The open database.
pub struct Idb {
    db: IdbDatabase,
}

impl Idb {
    /// Opens (creating on first use) the tab's memory database.
    pub async fn open() -> Result<Self, String> {
        let factory = web_sys::window()
            .ok_or("no window")?
            .indexed_db()
            .map_err(describe)?
            .ok_or("this browser offers no IndexedDB here")?;
        let request = factory.open_with_u32(DB_NAME, 1).map_err(describe)?;
        let upgrade_request = request.clone();
        let upgrade = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Ok(db) = upgrade_request
                .result()
                .and_then(JsCast::dyn_into::<IdbDatabase>)
            {
                for name in [HEADERS, BODIES] {
                    if !db.object_store_names().contains(name) {
                        let _ = db.create_object_store(name);
                    }
                }
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let opened = finished(&request).await;
        request.set_onupgradeneeded(None);
        let db = opened?.dyn_into::<IdbDatabase>().map_err(describe)?;
        Ok(Self { db })
    }

    /// Every stored event, with its body where it was not forgotten.
    pub async fn load(&self) -> Result<Vec<Event>, String> {
        let names = js_sys::Array::of2(&HEADERS.into(), &BODIES.into());
        let tx = self
            .db
            .transaction_with_str_sequence(&names)
            .map_err(describe)?;
        let headers = tx.object_store(HEADERS).map_err(describe)?;
        let bodies = tx.object_store(BODIES).map_err(describe)?;
        let header_texts = finished(&headers.get_all().map_err(describe)?).await?;
        let body_ids = finished(&bodies.get_all_keys().map_err(describe)?).await?;
        let body_texts = finished(&bodies.get_all().map_err(describe)?).await?;
        // Both lists come in key order.
        let body_of: std::collections::HashMap<String, String> = js_sys::Array::from(&body_ids)
            .iter()
            .zip(js_sys::Array::from(&body_texts).iter())
            .filter_map(|(id, body)| Some((id.as_string()?, body.as_string()?)))
            .collect();
        let mut events = Vec::new();
        for text in js_sys::Array::from(&header_texts).iter() {
            let Some(text) = text.as_string() else {
                continue;
            };
            // A record that does not parse was not written by us: skipped, like an event
            // that fails verification.
            let Ok(mut event) = serde_json::from_str::<Event>(&text) else {
                continue;
            };
            event.body = body_of.get(event.id.as_str()).cloned();
            events.push(event);
        }
        Ok(events)
    }

    /// Stores what one replica step applied — its events, then its erasures — in one
    /// transaction; resolves when it completes.
    pub fn write(
        &self,
        applied: &Applied,
        durability: Durability,
    ) -> Result<impl std::future::Future<Output = Result<(), String>>, String> {
        let tx = self.transaction(durability).map_err(describe)?;
        let headers = tx.object_store(HEADERS).map_err(describe)?;
        let bodies = tx.object_store(BODIES).map_err(describe)?;
        for event in &applied.events {
            let mut header = event.clone();
            let body = header.body.take();
            let text = serde_json::to_string(&header).map_err(|e| e.to_string())?;
            let id = JsValue::from_str(event.id.as_str());
            headers
                .put_with_key(&JsValue::from_str(&text), &id)
                .map_err(describe)?;
            if let Some(body) = body {
                bodies
                    .put_with_key(&JsValue::from_str(&body), &id)
                    .map_err(describe)?;
            }
        }
        for id in &applied.erased {
            bodies
                .delete(&JsValue::from_str(id.as_str()))
                .map_err(describe)?;
        }
        Ok(completed(tx))
    }

    /// A read-write transaction over both stores; `durability` is passed as the options
    /// argument (web-sys has it only behind its unstable APIs).
    fn transaction(&self, durability: Durability) -> Result<IdbTransaction, JsValue> {
        let names = js_sys::Array::of2(&HEADERS.into(), &BODIES.into());
        if durability == Durability::Default {
            return self
                .db
                .transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readwrite);
        }
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"durability".into(), &"strict".into())?;
        let open: js_sys::Function =
            js_sys::Reflect::get(&self.db, &"transaction".into())?.dyn_into()?;
        open.call3(&self.db, &names, &"readwrite".into(), &options)?
            .dyn_into()
    }
}

/// A request's result once it succeeds, or why it failed. The handlers are set now, not at
/// the first poll, so no event can fire before they are.
fn finished(request: &IdbRequest) -> impl std::future::Future<Output = Result<JsValue, String>> {
    let (tx, rx) = oneshot::channel::<Result<JsValue, String>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let (on_ok, ok_request) = (Rc::clone(&tx), request.clone());
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(tx) = on_ok.borrow_mut().take() {
            let _ = tx.send(ok_request.result().map_err(describe));
        }
    });
    let err_request = request.clone();
    let err = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(tx) = tx.borrow_mut().take() {
            let why = err_request
                .error()
                .ok()
                .flatten()
                .map_or_else(|| "IndexedDB request failed".to_owned(), |e| e.message());
            let _ = tx.send(Err(why));
        }
    });
    request.set_onsuccess(Some(ok.as_ref().unchecked_ref()));
    request.set_onerror(Some(err.as_ref().unchecked_ref()));
    let request = request.clone();
    async move {
        let result = rx
            .await
            .unwrap_or_else(|_| Err("IndexedDB request dropped".into()));
        request.set_onsuccess(None);
        request.set_onerror(None);
        drop((ok, err));
        result
    }
}

/// Resolves when `tx` commits, or with why it failed or aborted (handlers set now).
fn completed(tx: IdbTransaction) -> impl std::future::Future<Output = Result<(), String>> {
    let (send, rx) = oneshot::channel::<Result<(), String>>();
    let send = Rc::new(RefCell::new(Some(send)));
    let on_ok = Rc::clone(&send);
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(s) = on_ok.borrow_mut().take() {
            let _ = s.send(Ok(()));
        }
    });
    let err_tx = tx.clone();
    let fail = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(s) = send.borrow_mut().take() {
            let why = err_tx.error().map_or_else(
                || "IndexedDB transaction aborted".to_owned(),
                |e| e.message(),
            );
            let _ = s.send(Err(why));
        }
    });
    tx.set_oncomplete(Some(ok.as_ref().unchecked_ref()));
    tx.set_onerror(Some(fail.as_ref().unchecked_ref()));
    tx.set_onabort(Some(fail.as_ref().unchecked_ref()));
    async move {
        let result = rx
            .await
            .unwrap_or_else(|_| Err("IndexedDB transaction dropped".into()));
        tx.set_oncomplete(None);
        tx.set_onerror(None);
        tx.set_onabort(None);
        drop((ok, fail));
        result
    }
}

/// A browser exception's text.
fn describe(value: JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}
