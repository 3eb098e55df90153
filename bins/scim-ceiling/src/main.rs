//! # scim-ceiling
//!
//! The bare program: the least work a SCIM server on actix-web + diesel/SQLite +
//! r2d2 must do per request. `GET /lookup?u=NAME` runs one indexed query and
//! returns the stored JSON document in a ListResponse; `POST /create` inserts two
//! rows (a user and an audit row) in one `BEGIN IMMEDIATE` transaction. No
//! authentication, no parsing, no rendering. Measured with the same client in the
//! same run as the real server, its rate is the ceiling a figure is read against
//! (a ratio survives a noisy shared machine; an absolute figure does not).
//!
//! ```text
//! cargo build --release -p scim-ceiling
//! target/release/scim-ceiling /tmp/ceiling.db 100000 18200   # DB_PATH USERS PORT; loads USERS users u<i>@x.test once
//! wrk -t2 -c16 -d10s -s bench/wrk/ceiling-lookup.lua --latency http://127.0.0.1:18200
//! wrk -t2 -c8  -d10s -s bench/wrk/ceiling-create.lua --latency http://127.0.0.1:18200/create
//! ```
//!
//! `bench/run.sh` builds it, starts it next to the real server and prints both
//! rates and their ratio; see `docs/performance.md`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sql_types::{BigInt, Text};

/// The connection settings of the real server's SQLite pool.
#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, c: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        for p in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=5000",
            "PRAGMA foreign_keys=ON",
        ] {
            diesel::sql_query(p)
                .execute(c)
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

type P = Pool<ConnectionManager<SqliteConnection>>;

#[derive(Debug, QueryableByName)]
struct Doc {
    #[diesel(sql_type = Text)]
    doc: String,
}

static NEXT: AtomicI64 = AtomicI64::new(0);

async fn lookup(pool: web::Data<P>, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let u = q.get("u").cloned().unwrap_or_default().to_lowercase();
    let pool = pool.clone();
    let r = web::block(move || {
        let mut c = pool.get().ok()?;
        diesel::sql_query("SELECT doc FROM users WHERE tenant = 1 AND user_name_ci = ?")
            .bind::<Text, _>(u)
            .load::<Doc>(&mut c)
            .ok()
    })
    .await
    .ok()
    .flatten();
    match r {
        Some(v) => {
            let body = format!(
                "{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":{},\"Resources\":[{}]}}",
                v.len(),
                v.iter()
                    .map(|d| d.doc.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            HttpResponse::Ok()
                .content_type("application/scim+json")
                .body(body)
        }
        None => HttpResponse::InternalServerError().finish(),
    }
}

async fn create(pool: web::Data<P>, body: web::Bytes) -> HttpResponse {
    let pool = pool.clone();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let r = web::block(move || -> Result<(), String> {
        let mut c = pool.get().map_err(|e| e.to_string())?;
        let doc = String::from_utf8_lossy(&body).to_string();
        c.immediate_transaction(|c| {
            diesel::sql_query("INSERT INTO users (tenant, user_name_ci, doc) VALUES (1, ?, ?)")
                .bind::<Text, _>(format!("new{n}@x.test"))
                .bind::<Text, _>(doc)
                .execute(c)?;
            diesel::sql_query("INSERT INTO audit (tenant, n) VALUES (1, ?)")
                .bind::<BigInt, _>(n)
                .execute(c)?;
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(|e| e.to_string())
    })
    .await;
    match r {
        Ok(Ok(())) => HttpResponse::Created().finish(),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

/// Creates the tables and loads `users` users `u<i>@x.test` (skipping those present).
fn load(pool: &P, users: i64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut c = pool.get()?;
    diesel::sql_query("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, user_name_ci TEXT NOT NULL, doc TEXT NOT NULL)").execute(&mut c)?;
    diesel::sql_query("CREATE UNIQUE INDEX IF NOT EXISTS users_un ON users(tenant, user_name_ci)")
        .execute(&mut c)?;
    diesel::sql_query("CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, n INTEGER)").execute(&mut c)?;
    c.transaction(|c| {
        for i in 0..users {
            let doc = format!(
                "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"{i}\",\"userName\":\"u{i}@x.test\",\"active\":true,\"emails\":[{{\"type\":\"work\",\"value\":\"u{i}@x.test\",\"primary\":true}}],\"name\":{{\"givenName\":\"G{i}\",\"familyName\":\"F{i}\"}},\"meta\":{{\"resourceType\":\"User\"}}}}"
            );
            diesel::sql_query(
                "INSERT OR IGNORE INTO users (tenant, user_name_ci, doc) VALUES (1, ?, ?)",
            )
            .bind::<Text, _>(format!("u{i}@x.test"))
            .bind::<Text, _>(doc)
            .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "ceiling.db".into());
    let users: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let port = args.next().unwrap_or_else(|| "18200".into());
    let pool: P = Pool::builder()
        .max_size(8)
        .connection_customizer(Box::new(Pragmas))
        .build(ConnectionManager::new(path))
        .map_err(std::io::Error::other)?;
    load(&pool, users).map_err(std::io::Error::other)?;
    eprintln!("ready on 127.0.0.1:{port}");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(pool.clone()))
            .route("/lookup", web::get().to(lookup))
            .route("/create", web::post().to(create))
    })
    .bind(format!("127.0.0.1:{port}"))?
    .run()
    .await
}
