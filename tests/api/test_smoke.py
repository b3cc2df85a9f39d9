def test_ask_answers_who_question_with_citation(client):
    r = client.post("/ask", json={"question": "谁负责近视防控?"})
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is True
    assert body["citations"][0]["task"] == 8
    assert body["citations"][0]["lead_unit"] == "体卫艺科"
