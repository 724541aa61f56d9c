//! The task form (`form#task-form`): what it submits, checked before it leaves the tab.

use meshwork_protocol::rest::CreateTaskRequest;
use serde_json::{json, Value};

/// `source_agent_id` of every task the hub submits.
pub const HUB_SOURCE: &str = "hub";

/// Seconds a hub task lives before it fails unpicked.
pub const HUB_TASK_TTL: u64 = 300;

/// The skill an intervention runs: chatixia's built-in handler for messages from the hub.
pub const INTERVENTION_SKILL: &str = "user_intervention";

/// What `select#task-kind` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Run a skill with a JSON object as arguments.
    Task,
    /// A free-text message for the agent (skill [`INTERVENTION_SKILL`]).
    Intervention,
}

impl TaskKind {
    /// The select's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Intervention => "intervention",
        }
    }

    /// Parses the select's value; anything else is a task.
    pub fn parse(s: &str) -> Self {
        if s == "intervention" {
            Self::Intervention
        } else {
            Self::Task
        }
    }
}

/// Builds the body of `POST /api/hub/tasks`, or says in words what to fix.
pub fn build_request(
    kind: TaskKind,
    agent: &str,
    skill: &str,
    payload: &str,
) -> Result<CreateTaskRequest, String> {
    let agent = agent.trim();
    if agent.is_empty() {
        return Err("Choose an agent first: no agent is registered yet.".into());
    }
    let (skill, payload) = match kind {
        TaskKind::Task => {
            let skill = skill.trim();
            if skill.is_empty() {
                return Err(
                    "Enter the skill to run (the agent's advertised ones are listed).".into(),
                );
            }
            (skill.to_owned(), parse_payload(payload)?)
        }
        TaskKind::Intervention => {
            let text = payload.trim();
            if text.is_empty() {
                return Err("Write the message for the agent.".into());
            }
            (INTERVENTION_SKILL.to_owned(), json!({ "message": text }))
        }
    };
    Ok(CreateTaskRequest {
        skill,
        target_agent_id: agent.to_owned(),
        source_agent_id: HUB_SOURCE.to_owned(),
        payload,
        ttl: Some(HUB_TASK_TTL),
    })
}

/// A task's arguments: a JSON object; empty means `{}`.
fn parse_payload(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(r#"The payload must be a JSON object, like {"message": "hi"}."#.into()),
        Err(e) => Err(format!(
            "The payload is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_carries_its_json_object_and_the_hub_defaults() {
        let r = build_request(TaskKind::Task, "a", " echo ", r#"{"message": "hi"}"#).expect("ok");
        assert_eq!(
            serde_json::to_value(&r).expect("json"),
            json!({"skill": "echo", "target_agent_id": "a", "source_agent_id": "hub",
                   "payload": {"message": "hi"}, "ttl": 300})
        );
    }

    #[test]
    fn an_intervention_wraps_its_text() {
        let r = build_request(TaskKind::Intervention, "a", "", "stop now").expect("ok");
        assert_eq!(r.skill, "user_intervention");
        assert_eq!(r.payload, json!({"message": "stop now"}));
    }

    #[test]
    fn bad_payloads_are_explained() {
        let not_json = build_request(TaskKind::Task, "a", "echo", "{nope").expect_err("bad");
        assert!(not_json.contains("not valid JSON"), "{not_json}");
        let not_object = build_request(TaskKind::Task, "a", "echo", "[1]").expect_err("bad");
        assert!(not_object.contains("JSON object"), "{not_object}");
        assert!(build_request(TaskKind::Task, "", "echo", "{}").is_err());
        assert!(build_request(TaskKind::Task, "a", " ", "{}").is_err());
        let empty = build_request(TaskKind::Task, "a", "echo", "").expect("empty is {}");
        assert_eq!(empty.payload, json!({}));
    }
}
