//! The task queue. Every state change is one SQL statement guarded by the state it expects,
//! so two racing updates cannot both win and an illegal transition never lands.

use super::Db;
use meshwork_protocol::rest::{Task, TaskState};
use rusqlite::{params, OptionalExtension, Row};

const SELECT: &str = "SELECT id, skill, target_agent_id, source_agent_id, assigned_agent_id, \
     payload, state, result, error, created_at, updated_at, ttl FROM tasks";

fn row_to_task(row: &Row<'_>) -> rusqlite::Result<Task> {
    let payload: String = row.get(5)?;
    let state: String = row.get(6)?;
    let ttl: i64 = row.get(11)?;
    Ok(Task {
        id: row.get(0)?,
        skill: row.get(1)?,
        target_agent_id: row.get(2)?,
        source_agent_id: row.get(3)?,
        assigned_agent_id: row.get(4)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        state: TaskState::parse(&state).unwrap_or(TaskState::Failed),
        result: row.get(7)?,
        error: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        ttl: u64::try_from(ttl).unwrap_or(0),
    })
}

/// Outcome of a requested transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Applied; the task as it is now.
    Applied(Box<Task>),
    /// No such task.
    NotFound,
    /// The task was in this state, from which the transition is illegal.
    Illegal(TaskState),
}

impl Db {
    /// Stores a new task.
    pub fn insert_task(&self, task: &Task) -> rusqlite::Result<()> {
        self.lock().execute(
            "INSERT INTO tasks (id, skill, target_agent_id, source_agent_id, assigned_agent_id,
                payload, state, result, error, created_at, updated_at, ttl)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                task.id,
                task.skill,
                task.target_agent_id,
                task.source_agent_id,
                task.assigned_agent_id,
                task.payload.to_string(),
                task.state.as_str(),
                task.result,
                task.error,
                task.created_at,
                task.updated_at,
                i64::try_from(task.ttl).unwrap_or(i64::MAX),
            ],
        )?;
        Ok(())
    }

    /// One task.
    pub fn task(&self, id: &str) -> rusqlite::Result<Option<Task>> {
        self.lock()
            .query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)
            .optional()
    }

    /// Tasks changed at or after `since` (unix seconds), oldest first.
    pub fn tasks_updated_since(&self, since: f64) -> rusqlite::Result<Vec<Task>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE updated_at >= ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map(params![since], row_to_task)?;
        rows.collect()
    }

    /// Every task, oldest first.
    pub fn tasks(&self) -> rusqlite::Result<Vec<Task>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY created_at, id"))?;
        let rows = stmt.query_map([], row_to_task)?;
        rows.collect()
    }

    /// Number of tasks in each state.
    pub fn task_counts(&self) -> rusqlite::Result<Vec<(TaskState, u64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM tasks GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut counts: Vec<(TaskState, u64)> = TaskState::ALL.iter().map(|s| (*s, 0)).collect();
        for row in rows {
            let (state, n) = row?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| s.as_str() == state) {
                slot.1 = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(counts)
    }

    /// Moves a task to `next` if that is legal from its current state. Empty `result`/`error`
    /// leave the stored ones unchanged (as upstream).
    pub fn transition_task(
        &self,
        id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> rusqlite::Result<Transition> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let Some(current) = tx
            .query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)
            .optional()?
        else {
            return Ok(Transition::NotFound);
        };
        if !current.state.can_become(next) {
            return Ok(Transition::Illegal(current.state));
        }
        let assigned = if next == TaskState::Pending {
            ""
        } else {
            &current.assigned_agent_id
        };
        tx.execute(
            "UPDATE tasks SET state = ?2,
                result = CASE WHEN ?3 = '' THEN result ELSE ?3 END,
                error = CASE WHEN ?4 = '' THEN error ELSE ?4 END,
                assigned_agent_id = ?5, updated_at = ?6
             WHERE id = ?1 AND state = ?7",
            params![
                id,
                next.as_str(),
                result,
                error,
                assigned,
                now,
                current.state.as_str()
            ],
        )?;
        let updated = tx.query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)?;
        tx.commit()?;
        Ok(Transition::Applied(Box::new(updated)))
    }

    /// Hands the caller every pending task addressed to it, or addressed to nobody with a
    /// skill it has; they become `assigned` to it.
    pub fn assign_pending(
        &self,
        agent_id: &str,
        skills: &[String],
        now: f64,
    ) -> rusqlite::Result<Vec<Task>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let candidates: Vec<Task> = {
            let mut stmt = tx.prepare(&format!(
                "{SELECT} WHERE state = 'pending' AND created_at + ttl > ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map(params![now], row_to_task)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut assigned = Vec::new();
        for mut task in candidates {
            let for_me = task.target_agent_id == agent_id
                || (task.target_agent_id.is_empty()
                    && !task.skill.is_empty()
                    && skills.contains(&task.skill));
            if !for_me {
                continue;
            }
            tx.execute(
                "UPDATE tasks SET state = 'assigned', assigned_agent_id = ?2, updated_at = ?3
                 WHERE id = ?1 AND state = 'pending'",
                params![task.id, agent_id, now],
            )?;
            task.state = TaskState::Assigned;
            task.assigned_agent_id = agent_id.to_owned();
            task.updated_at = now;
            assigned.push(task);
        }
        tx.commit()?;
        Ok(assigned)
    }

    /// Returns the assigned tasks of an agent that went offline to `pending` — unless it
    /// heartbeated after `silent_since` meanwhile (then it holds them legitimately). The check
    /// and the update are one statement, so a heartbeat racing the maintenance loop never
    /// loses the tasks it was just handed.
    pub fn requeue_if_silent(
        &self,
        agent_id: &str,
        silent_since: f64,
        now: f64,
    ) -> rusqlite::Result<usize> {
        self.lock().execute(
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = ?3
             WHERE state = 'assigned' AND assigned_agent_id = ?1
               AND COALESCE((SELECT last_heartbeat FROM agents WHERE agent_id = ?1), 0) <= ?2",
            params![agent_id, silent_since, now],
        )
    }

    /// Returns the assigned tasks of an agent that went away to `pending`.
    pub fn requeue_assigned(&self, agent_id: &str, now: f64) -> rusqlite::Result<usize> {
        self.lock().execute(
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = ?2
             WHERE state = 'assigned' AND assigned_agent_id = ?1",
            params![agent_id, now],
        )
    }

    /// Fails every unfinished task past `created_at + ttl`.
    pub fn expire_tasks(&self, now: f64) -> rusqlite::Result<usize> {
        self.lock().execute(
            "UPDATE tasks SET state = 'failed', error = 'TTL expired', updated_at = ?1
             WHERE state IN ('pending', 'assigned') AND created_at + ttl <= ?1",
            params![now],
        )
    }
}
