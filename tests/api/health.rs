use crate::helpers::spawn_app;

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn ready_answers_ok_while_the_database_is_reachable() {
    let app = spawn_app().await;
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn ready_says_unavailable_in_italian_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.drop_database().await;
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Servizio temporaneamente non disponibile"),
        "{body}"
    );
    // /health is about the process only.
    assert_eq!(app.get("/health").await.status(), 200);
}
