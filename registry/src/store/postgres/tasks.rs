//! The task queue in PostgreSQL. The same guarded statements as the SQLite backend; here they
//! also hold when several registries share the database: a racing `UPDATE … WHERE state =
//! 'pending'` waits for the other transaction and then matches nothing, and a REST transition
//! locks the row it checks.

use super::{corrupt, count, PgStore};
use crate::store::{
    records::{group, sort_by_creation, with_timelines, Transition},
    StoreError, StoreResult,
};
use deadpool_postgres::GenericClient;
use meshwork_protocol::rest::{Task, TaskDelivery, TaskState, TaskStep};
use tokio_postgres::{types::ToSql, Row};

const SELECT: &str = "SELECT id, skill, target_agent_id, source_agent_id, assigned_agent_id, \
     payload, state, result, error, created_at, updated_at, ttl FROM tasks";

const SELECT_STEPS: &str = "SELECT task_id, at, state, via, note FROM task_steps";

type Param<'a> = &'a (dyn ToSql + Sync);

fn row_to_task(row: &Row) -> StoreResult<Task> {
    let payload: String = row.try_get(5)?;
    let state: String = row.try_get(6)?;
    let ttl: i64 = row.try_get(11)?;
    Ok(Task {
        id: row.try_get(0)?,
        skill: row.try_get(1)?,
        target_agent_id: row.try_get(2)?,
        source_agent_id: row.try_get(3)?,
        assigned_agent_id: row.try_get(4)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        state: TaskState::parse(&state).ok_or_else(|| corrupt("task state", &state))?,
        result: row.try_get(7)?,
        error: row.try_get(8)?,
        created_at: row.try_get(9)?,
        updated_at: row.try_get(10)?,
        ttl: u64::try_from(ttl).unwrap_or(0),
        delivery: None,
        timeline: Vec::new(),
    })
}

fn row_to_step(row: &Row) -> StoreResult<(String, TaskStep)> {
    let state: String = row.try_get(2)?;
    let via: String = row.try_get(3)?;
    Ok((
        row.try_get(0)?,
        TaskStep {
            at: row.try_get(1)?,
            state: TaskState::parse(&state).ok_or_else(|| corrupt("task step state", &state))?,
            via: TaskDelivery::parse(&via),
            note: row.try_get(4)?,
        },
    ))
}

async fn tasks(c: &impl GenericClient, sql: &str, args: &[Param<'_>]) -> StoreResult<Vec<Task>> {
    c.query(sql, args).await?.iter().map(row_to_task).collect()
}

async fn one_task(c: &impl GenericClient, id: &str) -> StoreResult<Option<Task>> {
    let row = c
        .query_opt(&format!("{SELECT} WHERE id = $1"), &[&id])
        .await?;
    row.as_ref().map(row_to_task).transpose()
}

/// Tasks (from `tasks_sql`) with their timelines (the steps of the ids `ids_sql` selects, with
/// the same arguments).
async fn with_steps(
    c: &impl GenericClient,
    tasks_sql: &str,
    ids_sql: &str,
    args: &[Param<'_>],
) -> StoreResult<Vec<Task>> {
    let mut list = tasks(c, tasks_sql, args).await?;
    let steps = c
        .query(
            &format!("{SELECT_STEPS} WHERE task_id IN ({ids_sql}) ORDER BY task_id, seq"),
            args,
        )
        .await?
        .iter()
        .map(row_to_step)
        .collect::<StoreResult<Vec<_>>>()?;
    with_timelines(&mut list, group(steps));
    Ok(list)
}

/// Appends one step to a task's timeline.
async fn add_step(
    c: &impl GenericClient,
    id: &str,
    state: TaskState,
    via: Option<TaskDelivery>,
    note: &str,
    now: f64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO task_steps (task_id, at, state, via, note) VALUES ($1, $2, $3, $4, $5)",
        &[
            &id,
            &now,
            &state.as_str(),
            &via.map_or("", TaskDelivery::as_str),
            &note,
        ],
    )
    .await?;
    Ok(())
}

impl PgStore {
    /// Runs a guarded `UPDATE … RETURNING id` and adds the same step to every task it changed.
    async fn update_with_step(
        &self,
        sql: &str,
        args: &[Param<'_>],
        state: TaskState,
        note: &str,
        now: f64,
    ) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = tx.query(sql, args).await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            add_step(&tx, &id, state, None, note, now).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    pub(super) async fn insert_task(&self, task: &Task) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO tasks (id, skill, target_agent_id, source_agent_id, assigned_agent_id,
                payload, state, result, error, created_at, updated_at, ttl)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &task.id,
                &task.skill,
                &task.target_agent_id,
                &task.source_agent_id,
                &task.assigned_agent_id,
                &task.payload.to_string(),
                &task.state.as_str(),
                &task.result,
                &task.error,
                &task.created_at,
                &task.updated_at,
                &i64::try_from(task.ttl).unwrap_or(i64::MAX),
            ],
        )
        .await?;
        add_step(&tx, &task.id, task.state, None, "queued", task.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn task(&self, id: &str) -> StoreResult<Option<Task>> {
        let client = self.client().await?;
        let list = with_steps(
            &client,
            &format!("{SELECT} WHERE id = $1"),
            "SELECT $1::text",
            &[&id],
        )
        .await?;
        Ok(list.into_iter().next())
    }

    pub(super) async fn tasks_updated_since(&self, since: f64) -> StoreResult<Vec<Task>> {
        let client = self.client().await?;
        with_steps(
            &client,
            &format!("{SELECT} WHERE updated_at >= $1"),
            "SELECT id FROM tasks WHERE updated_at >= $1",
            &[&since],
        )
        .await
        .map(|mut tasks| {
            sort_by_creation(&mut tasks);
            tasks
        })
    }

    pub(super) async fn pending_tasks(&self, now: f64) -> StoreResult<Vec<Task>> {
        let client = self.client().await?;
        tasks(
            &client,
            &format!(
                "{SELECT} WHERE state = 'pending' AND created_at + ttl > $1 ORDER BY created_at, id"
            ),
            &[&now],
        )
        .await
    }

    pub(super) async fn task_counts(&self) -> StoreResult<Vec<(TaskState, u64)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT state, COUNT(*) FROM tasks GROUP BY state", &[])
            .await?;
        let mut counts: Vec<(TaskState, u64)> = TaskState::ALL.iter().map(|s| (*s, 0)).collect();
        for row in rows {
            let (state, n): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(slot) = counts.iter_mut().find(|(s, _)| s.as_str() == state) {
                slot.1 = count(n);
            }
        }
        Ok(counts)
    }

    pub(super) async fn transition_task(
        &self,
        id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Transition> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(&format!("{SELECT} WHERE id = $1 FOR UPDATE"), &[&id])
            .await?;
        let Some(current) = row.as_ref().map(row_to_task).transpose()? else {
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
            "UPDATE tasks SET state = $2,
                result = CASE WHEN $3::text = '' THEN result ELSE $3 END,
                error = CASE WHEN $4::text = '' THEN error ELSE $4 END,
                assigned_agent_id = $5, updated_at = $6
             WHERE id = $1",
            &[&id, &next.as_str(), &result, &error, &assigned, &now],
        )
        .await?;
        add_step(&tx, id, next, None, "reported over REST", now).await?;
        let updated = one_task(&tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("task {id} vanished mid-transaction")))?;
        tx.commit().await?;
        Ok(Transition::Applied(Box::new(updated)))
    }

    pub(super) async fn assign_pending(
        &self,
        agent_id: &str,
        skills: &[String],
        now: f64,
    ) -> StoreResult<Vec<Task>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let candidates = tasks(
            &tx,
            &format!(
                "{SELECT} WHERE state = 'pending' AND created_at + ttl > $1 \
                 AND (target_agent_id = $2 OR (target_agent_id = '' AND skill <> '' \
                      AND skill = ANY($3))) \
                 ORDER BY created_at, id"
            ),
            &[&now, &agent_id, &skills],
        )
        .await?;
        let note = format!("handed to {agent_id} in its heartbeat's answer");
        let via = Some(TaskDelivery::Heartbeat);
        let mut assigned = Vec::new();
        for mut task in candidates {
            // Another registry may have handed it out since the read: then this matches
            // nothing and the task is not ours.
            let changed = tx
                .execute(
                    "UPDATE tasks SET state = 'assigned', assigned_agent_id = $2, updated_at = $3
                     WHERE id = $1 AND state = 'pending'",
                    &[&task.id, &agent_id, &now],
                )
                .await?;
            if changed == 0 {
                continue;
            }
            add_step(&tx, &task.id, TaskState::Assigned, via, &note, now).await?;
            task.state = TaskState::Assigned;
            task.assigned_agent_id = agent_id.to_owned();
            task.updated_at = now;
            task.delivery = via;
            assigned.push(task);
        }
        tx.commit().await?;
        Ok(assigned)
    }

    pub(super) async fn claim_for_mesh(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> StoreResult<Option<Task>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE tasks SET state = 'assigned', assigned_agent_id = $2, updated_at = $3
                 WHERE id = $1 AND state = 'pending' AND created_at + ttl > $3",
                &[&id, &agent_id, &now],
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        add_step(
            &tx,
            id,
            TaskState::Assigned,
            Some(TaskDelivery::Mesh),
            note,
            now,
        )
        .await?;
        let task = one_task(&tx, id).await?;
        tx.commit().await?;
        Ok(task)
    }

    pub(super) async fn unclaim(
        &self,
        id: &str,
        agent_id: &str,
        note: &str,
        now: f64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = $3
                 WHERE id = $1 AND state = 'assigned' AND assigned_agent_id = $2",
                &[&id, &agent_id, &now],
            )
            .await?;
        if changed > 0 {
            add_step(&tx, id, TaskState::Pending, None, note, now).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    pub(super) async fn finish_assigned(
        &self,
        id: &str,
        agent_id: &str,
        next: TaskState,
        result: &str,
        error: &str,
        now: f64,
    ) -> StoreResult<Option<Task>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE tasks SET state = $3, result = $4, error = $5, updated_at = $6
                 WHERE id = $1 AND state = 'assigned' AND assigned_agent_id = $2",
                &[&id, &agent_id, &next.as_str(), &result, &error, &now],
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        add_step(&tx, id, next, None, "answered over the mesh", now).await?;
        let task = one_task(&tx, id).await?;
        tx.commit().await?;
        Ok(task)
    }

    pub(super) async fn requeue_if_silent(
        &self,
        agent_id: &str,
        silent_since: f64,
        now: f64,
    ) -> StoreResult<usize> {
        self.update_with_step(
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = $3
             WHERE state = 'assigned' AND assigned_agent_id = $1
               AND COALESCE((SELECT last_heartbeat FROM agents WHERE agent_id = $1), 0) <= $2
             RETURNING id",
            &[&agent_id, &silent_since, &now],
            TaskState::Pending,
            "its agent went offline; back in the queue",
            now,
        )
        .await
    }

    pub(super) async fn requeue_assigned(&self, agent_id: &str, now: f64) -> StoreResult<usize> {
        self.update_with_step(
            "UPDATE tasks SET state = 'pending', assigned_agent_id = '', updated_at = $2
             WHERE state = 'assigned' AND assigned_agent_id = $1
             RETURNING id",
            &[&agent_id, &now],
            TaskState::Pending,
            "its agent was removed; back in the queue",
            now,
        )
        .await
    }

    pub(super) async fn delete_finished_tasks(&self, before: f64) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let finished = "SELECT id FROM tasks WHERE state IN ('completed', 'failed') \
                        AND updated_at < $1";
        tx.execute(
            &format!("DELETE FROM task_steps WHERE task_id IN ({finished})"),
            &[&before],
        )
        .await?;
        let deleted = tx
            .execute(
                &format!("DELETE FROM tasks WHERE id IN ({finished})"),
                &[&before],
            )
            .await?;
        tx.commit().await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    pub(super) async fn task_count(&self) -> StoreResult<u64> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM tasks", &[])
            .await?;
        Ok(count(row.try_get(0)?))
    }

    pub(super) async fn tasks_page(&self, limit: u64, offset: u64) -> StoreResult<Vec<Task>> {
        let (limit, offset) = (
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(offset).unwrap_or(i64::MAX),
        );
        let page = "SELECT id FROM tasks ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2";
        let client = self.client().await?;
        with_steps(
            &client,
            &format!("{SELECT} WHERE id IN ({page}) ORDER BY created_at, id"),
            page,
            &[&limit, &offset],
        )
        .await
    }

    pub(super) async fn expire_tasks(&self, now: f64) -> StoreResult<usize> {
        self.update_with_step(
            "UPDATE tasks SET state = 'failed', error = 'TTL expired', updated_at = $1
             WHERE state IN ('pending', 'assigned') AND created_at + ttl <= $1
             RETURNING id",
            &[&now],
            TaskState::Failed,
            "TTL expired",
            now,
        )
        .await
    }
}
