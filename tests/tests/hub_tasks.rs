//! The hub with real chatixia agents (PyPI, unmodified) in a real headless Chromium: the task
//! form offers the chosen agent's advertised skills and a task submitted from it completes
//! over the mesh in under a second; the Join panel's `task_request` to a real agent's
//! `list_agents` skill gets the real answer over the DataChannel.

use meshwork_tests::{
    browser::Browser,
    chatixia::{keys_for, ChatixiaAgent},
    RegistryOptions, RegistryProcess,
};
use serde_json::Value;
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

const UI_TIMEOUT: Duration = Duration::from_secs(30);

fn registry() -> RegistryProcess {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist");
    assert!(
        dist.join("index.html").exists(),
        "dist/ is not built: run `trunk build --release` (scripts/test.sh does)"
    );
    RegistryProcess::start(RegistryOptions {
        api_keys: Some(keys_for(&["alice", "bob"])),
        compat_chatixia: true,
        hub_dist_dir: Some(dist),
        ..Default::default()
    })
}

async fn open_logged_in(browser: &Browser, reg: &RegistryProcess) {
    browser.open_hub(reg, UI_TIMEOUT).await;
}

async fn wait_text(browser: &Browser, what: &str, css: &str, needle: &str) -> String {
    browser.wait_text(what, css, needle, UI_TIMEOUT).await
}

#[tokio::test]
async fn a_task_from_the_hub_form_completes_on_a_connected_agent_within_a_second() {
    let reg = registry();
    let _alice = ChatixiaAgent::start(&reg, "alice").await;
    let _bob = ChatixiaAgent::start(&reg, "bob").await;
    let browser = Browser::start().await;
    open_logged_in(&browser, &reg).await;
    browser
        .wait_for(
            "bob in the task form",
            UI_TIMEOUT,
            "return !!document.querySelector(\"#task-agent option[value='bob']\")",
        )
        .await;
    browser.select("#task-agent", "bob").await;
    // The skill field offers what bob advertises, starting with its first skill.
    let offered: Value = browser
        .wait_for(
            "bob's skills offered",
            UI_TIMEOUT,
            "const o = [...document.querySelectorAll('#task-skill-options option')].map(o => o.value); return o.length ? [document.querySelector('#task-skill').value, o] : null",
        )
        .await;
    assert_eq!(offered[0], "list_agents", "{offered}");
    assert!(
        offered[1].to_string().contains("user_intervention"),
        "{offered}"
    );
    wait_text(
        &browser,
        "the skills hint",
        "#task-skill-hint",
        "bob advertises",
    )
    .await;
    browser.type_into("#task-payload", "{}").await;
    let started = Instant::now();
    browser.click("#task-submit").await;
    let outcome = wait_text(&browser, "the task id", "#task-outcome", "submitted").await;
    let id = outcome.trim().trim_start_matches("submitted ").to_owned();
    let row = format!("#tasks tr[data-task-id='{id}']");
    wait_text(
        &browser,
        "the task completed",
        &format!("{row} .state"),
        "completed",
    )
    .await;
    let took = started.elapsed();
    let result = wait_text(
        &browser,
        "the real answer",
        &format!("{row} .result"),
        "Mesh Agents",
    )
    .await;
    assert!(result.contains("alice"), "{result}");
    eprintln!("hub task submit → completed row: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    browser.close().await;
}

#[tokio::test]
async fn the_join_panel_runs_a_real_agent_s_list_agents_skill() {
    let reg = registry();
    let _alice = ChatixiaAgent::start(&reg, "alice").await;
    let browser = Browser::start().await;
    open_logged_in(&browser, &reg).await;
    browser.click("#join").await;
    browser
        .find("ul#mesh-peers li[data-peer-id='alice-sidecar']")
        .await;
    browser.select("#dc-peer", "alice-sidecar").await;
    browser.select("#dc-kind", "task_request").await;
    let skill: Value = browser
        .wait_for(
            "alice's first skill offered",
            UI_TIMEOUT,
            "const v = document.querySelector('#dc-skill').value; return v ? v : null",
        )
        .await;
    assert_eq!(skill, "list_agents");
    browser.type_into("#dc-text", "who is there?").await;
    browser.click("#dc-send").await;
    let reply = wait_text(
        &browser,
        "the agent's answer",
        "ul#dc-replies",
        "Mesh Agents",
    )
    .await;
    assert!(
        reply.contains("alice-sidecar") && !reply.contains("unknown skill"),
        "{reply}"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_hostile_markdown_result_renders_inert_and_the_task_detail_shows_its_timeline() {
    let reg = registry();
    let _alice = ChatixiaAgent::start(&reg, "alice").await;
    // chatixia's user_intervention answers "Received: <message>": the agent hands back
    // whatever it was given, so a hostile message is a hostile result.
    let hostile = "<img src=x onerror=\"window.__pwned=1\"> <script>window.__pwned=2</script> \
                   [click](javascript:window.__pwned=3) **bold**";
    let body = serde_json::json!({"skill": "user_intervention", "target_agent_id": "alice",
                                  "payload": {"message": hostile}});
    let (status, created) = meshwork_tests::http::call(
        &reg,
        reqwest::Method::POST,
        "/api/hub/tasks",
        meshwork_tests::http::Cred::Admin,
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{created}");
    let id = created["task_id"].as_str().expect("task id").to_owned();

    let browser = Browser::start().await;
    open_logged_in(&browser, &reg).await;
    let row = format!("#tasks tr[data-task-id='{id}']");
    wait_text(
        &browser,
        "the hostile result",
        &format!("{row} .result"),
        "Received:",
    )
    .await;
    browser.click(&format!("{row} button.task-open")).await;
    wait_text(&browser, "the detail", "#task-detail-timeline", "completed").await;
    let check: Value = browser
        .eval(&format!(
            "const cell = document.querySelector(\"{row} .result\"); \
             const detail = document.querySelector('#task-detail-result'); \
             const live = [cell, detail].flatMap(e => [...e.querySelectorAll('img, script, iframe, [onerror], [onclick]')]).length; \
             const links = [...detail.querySelectorAll('a')].map(a => a.getAttribute('href')); \
             return [live, window.__pwned === undefined, detail.textContent, links, \
                     !!detail.querySelector('strong'), \
                     document.querySelector('#task-detail-delivery').textContent, \
                     document.querySelector('#task-detail-timeline').textContent]"
        ))
        .await;
    assert_eq!(check[0], 0, "live elements in the result: {check}");
    assert_eq!(check[1], true, "a script ran: {check}");
    let text = check[2].as_str().unwrap_or_default();
    assert!(
        text.contains("<img src=x") && text.contains("<script>"),
        "shown as text: {check}"
    );
    assert_eq!(
        check[3],
        serde_json::json!([]),
        "no link, the javascript: one included: {check}"
    );
    assert_eq!(check[4], true, "Markdown still renders: {check}");
    assert!(
        check[5]
            .as_str()
            .unwrap_or_default()
            .contains("over the mesh"),
        "{check}"
    );
    let timeline = check[6].as_str().unwrap_or_default();
    assert!(
        timeline.contains("pending")
            && timeline.contains("assigned via mesh")
            && timeline.contains("completed"),
        "{timeline}"
    );
    browser.close().await;
}
