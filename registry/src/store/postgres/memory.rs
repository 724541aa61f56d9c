//! The registry's memory replica in PostgreSQL (ADR 0016): one row per event, the body apart
//! so a forget can erase it. After an erasure the table is vacuumed so the old row versions
//! are reclaimed; what PostgreSQL's WAL and free space still hold is the operator's to manage
//! (ADR 0023).

use super::PgStore;
use crate::store::{
    records::{join_event, split_event},
    StoreResult,
};
use meshwork_protocol::memory::{Event, EventId};

impl PgStore {
    pub(super) async fn memory_commit(
        &self,
        appends: Vec<Event>,
        erased: Vec<EventId>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for event in &appends {
            let (header, body) = split_event(event)?;
            tx.execute(
                "INSERT INTO memory_events (id, header, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[&event.id.as_str(), &header, &body],
            )
            .await?;
        }
        for id in &erased {
            tx.execute(
                "UPDATE memory_events SET body = NULL WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        }
        tx.commit().await?;
        if !erased.is_empty() {
            client.batch_execute("VACUUM memory_events").await?;
        }
        Ok(())
    }

    pub(super) async fn memory_events(&self) -> StoreResult<Vec<Event>> {
        let rows = self
            .client()
            .await?
            .query("SELECT header, body FROM memory_events", &[])
            .await?;
        rows.iter()
            .map(|r| join_event(&r.try_get::<_, String>(0)?, r.try_get(1)?))
            .collect()
    }
}
