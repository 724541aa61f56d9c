//! The task queue. Every state change is one SQL statement guarded by the state it expects,
//! so two racing updates cannot both win and an illegal transition never lands; each change
//! that lands adds a step to the task's timeline in the same transaction (ADR 0018).

use super::Db;
use crate::store::records::{group, sort_by_creation, with_timelines, Transition};
use meshwork_protocol::rest::{Task, TaskDelivery, TaskState, TaskStep};
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "SELECT id, skill, target_agent_id, source_agent_id, assigned_agent_id, \
     payload, state, result, error, created_at, updated_at, ttl FROM tasks";

const SELECT_STEPS: &str = "SELECT task_id, at, state, via, note FROM task_steps";

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
        delivery: None,
        timeline: Vec::new(),
    })
}

fn row_to_step(row: &Row<'_>) -> rusqlite::Result<(String, TaskStep)> {
    let state: String = row.get(2)?;
    let via: String = row.get(3)?;
    Ok((
        row.get(0)?,
        TaskStep {
            at: row.get(1)?,
            state: TaskState::parse(&state).unwrap_or(TaskState::Failed),
            via: TaskDelivery::parse(&via),
            note: row.get(4)?,
        },
    ))
}

/// Appends one step to a task's timeline.
fn add_step(
    conn: &Connection,
    id: &str,
    state: TaskState,
    via: Option<TaskDelivery>,
    note: &str,
    now: f64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO task_steps (task_id, at, state, via, note) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        id,
        now,
        state.as_str(),
        via.map_or("", TaskDelivery::as_str),
        note
    ])?;
    Ok(())
}

/// Runs a guarded `UPDATE … RETURNING id` and adds the same step to every task it changed.
fn update_with_step(
    conn: &mut Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
    state: TaskState,
    note: &str,
    now: f64,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare(sql)?;
        let rows = stmt.query_map(args, |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        add_step(&tx, id, state, None, note, now)?;
    }
    tx.commit()?;
    Ok(ids.len())
}

impl Db {
    /// Stores a new task.
    pub fn insert_task(&self, task: &Task) -> rusqlite::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
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
        add_step(&tx, &task.id, task.state, None, "queued", task.created_at)?;
        tx.commit()
    }

    /// One task, with its timeline.
    pub fn task(&self, id: &str) -> rusqlite::Result<Option<Task>> {
        let conn = self.lock();
        let Some(task) = conn
            .query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt =
            conn.prepare_cached(&format!("{SELECT_STEPS} WHERE task_id = ?1 ORDER BY seq"))?;
        let steps = stmt
            .query_map(params![id], row_to_step)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut tasks = [task];
        with_timelines(&mut tasks, group(steps));
        let [task] = tasks;
        Ok(Some(task))
    }

    /// Tasks changed at or after `since` (unix seconds), oldest first, with their timelines.
    pub fn tasks_updated_since(&self, since: f64) -> rusqlite::Result<Vec<Task>> {
        let conn = self.lock();
        // Read through the `updated_at` index and sorted here: asked to sort by creation,
        // SQLite walks the whole table in that order instead (12 ms at 100k tasks).
        let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE updated_at >= ?1"))?;
        let mut tasks = stmt
            .query_map(params![since], row_to_task)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        sort_by_creation(&mut tasks);
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT_STEPS} WHERE task_id IN (SELECT id FROM tasks WHERE updated_at >= ?1) \
             ORDER BY task_id, seq"
        ))?;
        let steps = stmt
            .query_map(params![since], row_to_step)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        with_timelines(&mut tasks, group(steps));
        Ok(tasks)
    }

    /// Pending tasks still within their TTL, oldest first (without timelines): what the
    /// mesh delivery may send (ADR 0018).
    pub fn pending_tasks(&self, now: f64) -> rusqlite::Result<Vec<Task>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE state = 'pending' AND created_at + ttl > ?1 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map(params![now], row_to_task)?;
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
        add_step(&tx, id, next, None, "reported over REST", now)?;
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
        let note = format!("handed to {agent_id} in its heartbeat's answer");
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
            let via = Some(TaskDelivery::Heartbeat);
            add_step(&tx, &task.id, TaskState::Assigned, via, &note, now)?;
            task.state = TaskState::Assigned;
            task.assigned_agent_id = agent_id.to_owned();
            task.updated_at = now;
            task.delivery = via;
            assigned.push(task);
        }
        tx.commit()?;
        Ok(assigned)
    }

    /// Assigns a pending task to `agent_id` for delivery over the mesh (ADR 0018); `None`
    /// when it is no longer pending (a heartbeat took it first) or has expired.
    pub fn claim_for_mesh(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> rusqlite::Result<Option<Task>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE tasks SET state = 'assigned', assigned_agent_id = ?2, updated_at = ?3
             WHERE id = ?1 AND state = 'pending' AND created_at + ttl > ?3",
            params![id, agent_id, now],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        let via = Some(TaskDelivery::Mesh);
        add_step(&tx, id, TaskState::Assigned, via, note, now)?;
        let task = tx.query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)?;
        tx.commit()?;
        Ok(Some(task))
    }

    /// Returns a task assigned to `agent_id` to the queue, saying why; `false` when it is not
    /// (any longer) assigned to that agent.
    pub fn unclaim(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = ?3
             WHERE id = ?1 AND state = 'assigned' AND assigned_agent_id = ?2",
            params![id, agent_id, now],
        )?;
        if changed > 0 {
            add_step(&tx, id, TaskState::Pending, None, note, now)?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Completes or fails a task assigned to `agent_id` with the answer that came over the
    /// mesh; `None` when it is not (any longer) assigned to that agent.
    pub fn finish_assigned(
        &self,
        id: &str,
        agent_id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> rusqlite::Result<Option<Task>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE tasks SET state = ?3, result = ?4, error = ?5, updated_at = ?6
             WHERE id = ?1 AND state = 'assigned' AND assigned_agent_id = ?2",
            params![id, agent_id, next.as_str(), result, error, now],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        add_step(&tx, id, next, None, "answered over the mesh", now)?;
        let task = tx.query_row(&format!("{SELECT} WHERE id = ?1"), params![id], row_to_task)?;
        tx.commit()?;
        Ok(Some(task))
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
        update_with_step(
            &mut self.lock(),
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = ?3
             WHERE state = 'assigned' AND assigned_agent_id = ?1
               AND COALESCE((SELECT last_heartbeat FROM agents WHERE agent_id = ?1), 0) <= ?2
             RETURNING id",
            &[&agent_id, &silent_since, &now],
            TaskState::Pending,
            "its agent went offline; back in the queue",
            now,
        )
    }

    /// Returns the assigned tasks of an agent that went away to `pending`.
    pub fn requeue_assigned(&self, agent_id: &str, now: f64) -> rusqlite::Result<usize> {
        update_with_step(
            &mut self.lock(),
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = ?2
             WHERE state = 'assigned' AND assigned_agent_id = ?1
             RETURNING id",
            &[&agent_id, &now],
            TaskState::Pending,
            "its agent was removed; back in the queue",
            now,
        )
    }

    /// Deletes the finished tasks (completed or failed) last changed before `before` (unix
    /// seconds), with their timelines; returns how many.
    pub fn delete_finished_tasks(&self, before: f64) -> rusqlite::Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let finished = "SELECT id FROM tasks WHERE state IN ('completed', 'failed') \
                        AND updated_at < ?1";
        tx.execute(
            &format!("DELETE FROM task_steps WHERE task_id IN ({finished})"),
            params![before],
        )?;
        let deleted = tx.execute(
            &format!("DELETE FROM tasks WHERE id IN ({finished})"),
            params![before],
        )?;
        tx.commit()?;
        Ok(deleted)
    }

    /// How many tasks the store holds.
    pub fn task_count(&self) -> rusqlite::Result<u64> {
        let n: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A page of tasks: the newest `limit` after skipping the `offset` newest, returned
    /// oldest first (the order of the unpaginated list), with their timelines.
    pub fn tasks_page(&self, limit: u64, offset: u64) -> rusqlite::Result<Vec<Task>> {
        let conn = self.lock();
        let (limit, offset) = (
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(offset).unwrap_or(i64::MAX),
        );
        let page = "SELECT id FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2";
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE id IN ({page}) ORDER BY created_at, id"
        ))?;
        let mut tasks = stmt
            .query_map(params![limit, offset], row_to_task)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT_STEPS} WHERE task_id IN ({page}) ORDER BY task_id, seq"
        ))?;
        let steps = stmt
            .query_map(params![limit, offset], row_to_step)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        with_timelines(&mut tasks, group(steps));
        Ok(tasks)
    }

    /// Fails every unfinished task past `created_at + ttl`.
    pub fn expire_tasks(&self, now: f64) -> rusqlite::Result<usize> {
        update_with_step(
            &mut self.lock(),
            "UPDATE tasks SET state = 'failed', error = 'TTL expired', updated_at = ?1
             WHERE state IN ('pending', 'assigned') AND created_at + ttl <= ?1
             RETURNING id",
            &[&now],
            TaskState::Failed,
            "TTL expired",
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> Task {
        Task {
            id: id.into(),
            skill: "list_agents".into(),
            target_agent_id: "alice".into(),
            source_agent_id: "hub".into(),
            assigned_agent_id: String::new(),
            payload: serde_json::json!({}),
            state: TaskState::Pending,
            result: String::new(),
            error: String::new(),
            created_at: 100.0,
            updated_at: 100.0,
            ttl: 300,
            delivery: None,
            timeline: Vec::new(),
        }
    }

    fn at(id: &str, created_at: f64) -> Task {
        Task {
            created_at,
            updated_at: created_at,
            ..task(id)
        }
    }

    #[test]
    fn finished_tasks_past_retention_are_deleted_with_their_timelines() -> rusqlite::Result<()> {
        let db = Db::in_memory().map_err(|_| rusqlite::Error::InvalidQuery)?;
        for (id, created) in [
            ("old-done", 100.0),
            ("old-open", 100.0),
            ("new-done", 200.0),
        ] {
            db.insert_task(&at(id, created))?;
        }
        db.claim_for_mesh("old-done", "alice", "sent", 101.0)?;
        db.finish_assigned("old-done", "alice", TaskState::Completed, "ok", "", 102.0)?;
        db.claim_for_mesh("new-done", "alice", "sent", 201.0)?;
        db.finish_assigned("new-done", "alice", TaskState::Completed, "ok", "", 202.0)?;
        assert_eq!(db.delete_finished_tasks(150.0)?, 1);
        assert!(db.task("old-done")?.is_none());
        assert!(
            db.task("old-open")?.is_some(),
            "an unfinished task is never deleted"
        );
        assert!(db.task("new-done")?.is_some(), "still within retention");
        let steps: i64 = db.lock().query_row(
            "SELECT COUNT(*) FROM task_steps WHERE task_id = 'old-done'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(steps, 0, "the timeline goes with its task");
        Ok(())
    }

    #[test]
    fn pages_run_newest_first_and_each_reads_oldest_first() -> rusqlite::Result<()> {
        let db = Db::in_memory().map_err(|_| rusqlite::Error::InvalidQuery)?;
        for i in 0..5 {
            db.insert_task(&at(&format!("t{i}"), 100.0 + f64::from(i)))?;
        }
        let ids = |page: Vec<Task>| page.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(db.tasks_page(2, 0)?), ["t3", "t4"]);
        assert_eq!(ids(db.tasks_page(2, 2)?), ["t1", "t2"]);
        assert_eq!(ids(db.tasks_page(2, 4)?), ["t0"]);
        assert_eq!(db.task_count()?, 5);
        Ok(())
    }

    #[test]
    fn a_task_goes_to_the_mesh_or_the_heartbeat_never_both() -> rusqlite::Result<()> {
        let db = Db::in_memory().map_err(|_| rusqlite::Error::InvalidQuery)?;
        db.insert_task(&task("t1"))?;
        assert!(db.claim_for_mesh("t1", "alice", "sent", 101.0)?.is_some());
        assert!(db.claim_for_mesh("t1", "alice", "sent", 101.0)?.is_none());
        assert!(db.assign_pending("alice", &[], 102.0)?.is_empty());
        assert!(db.unclaim("t1", "alice", "no agent; back in the queue", 103.0)?);
        let handed = db.assign_pending("alice", &[], 104.0)?;
        assert_eq!(handed.len(), 1);
        assert_eq!(handed[0].delivery, Some(TaskDelivery::Heartbeat));
        assert!(db.claim_for_mesh("t1", "alice", "sent", 105.0)?.is_none());
        assert!(db
            .finish_assigned("t1", "bob", TaskState::Completed, "x", "", 106.0)?
            .is_none());
        Ok(())
    }

    #[test]
    fn the_timeline_records_every_state_and_how_it_was_delivered() -> rusqlite::Result<()> {
        let db = Db::in_memory().map_err(|_| rusqlite::Error::InvalidQuery)?;
        db.insert_task(&task("t1"))?;
        db.claim_for_mesh("t1", "alice", "sent to alice-sidecar", 101.0)?;
        let done = db.finish_assigned("t1", "alice", TaskState::Completed, "## ok", "", 102.0)?;
        assert!(done.is_some());
        let Some(t) = db.task("t1")? else {
            panic!("task gone");
        };
        assert_eq!(t.delivery, Some(TaskDelivery::Mesh));
        assert_eq!(t.result, "## ok");
        let states: Vec<_> = t.timeline.iter().map(|s| (s.state, s.via)).collect();
        assert_eq!(
            states,
            [
                (TaskState::Pending, None),
                (TaskState::Assigned, Some(TaskDelivery::Mesh)),
                (TaskState::Completed, None)
            ]
        );
        assert_eq!(db.tasks_page(10, 0)?[0].timeline, t.timeline);
        assert_eq!(db.tasks_updated_since(0.0)?[0].timeline, t.timeline);
        assert_eq!(
            db.expire_tasks(1000.0)?,
            0,
            "a finished task does not expire"
        );
        Ok(())
    }

    #[test]
    fn a_requeued_task_shows_no_delivery_until_handed_out_again() -> rusqlite::Result<()> {
        let db = Db::in_memory().map_err(|_| rusqlite::Error::InvalidQuery)?;
        db.insert_task(&task("t1"))?;
        db.claim_for_mesh("t1", "alice", "sent", 101.0)?;
        assert_eq!(db.requeue_assigned("alice", 102.0)?, 1);
        let t = db
            .task("t1")?
            .map(|t| (t.state, t.delivery, t.timeline.len()));
        assert_eq!(t, Some((TaskState::Pending, None, 3)));
        assert_eq!(db.expire_tasks(1000.0)?, 1);
        let last = db.task("t1")?.and_then(|t| t.timeline.last().cloned());
        assert_eq!(
            last.map(|s| (s.state, s.note)),
            Some((TaskState::Failed, "TTL expired".into()))
        );
        Ok(())
    }
}
