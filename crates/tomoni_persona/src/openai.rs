//! The OpenAI Chat Completions wire format, reduced at the edge to a closed set of parts.
//! Tolerates what OpenAI, Ollama, llama.cpp, vLLM, LM Studio and OpenRouter actually send:
//! role-only first chunks, `null` or empty content, a usage chunk with empty `choices`,
//! reasoning fields, tool-call deltas and error objects mid-stream.

use serde::Serialize;
use serde_json::Value;

/// What one streamed chunk carried, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkPart {
    /// Text for the user (may contain expression tags).
    Content(String),
    /// Hidden reasoning (`reasoning_content`, `reasoning`): logged length only, never spoken.
    Reasoning(usize),
    /// A tool-call delta; companions do not call tools, so it is only noted.
    ToolCall,
    /// `finish_reason`.
    Finish(String),
    /// Token usage (final chunk on most providers).
    Usage {
        /// Prompt tokens.
        prompt: u64,
        /// Completion tokens.
        completion: u64,
    },
    /// An error object sent inside the stream.
    Error(String),
}

/// A chat message for the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with `role`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
}

/// The JSON body of a streaming chat request.
pub fn request_body(model: &str, messages: &[Message], temperature: Option<f32>, max_tokens: Option<u32>) -> Value {
    let mut v = serde_json::json!({ "model": model, "messages": messages, "stream": true });
    if let Some(t) = temperature {
        v["temperature"] = serde_json::json!(t);
    }
    if let Some(n) = max_tokens {
        v["max_tokens"] = serde_json::json!(n);
    }
    v
}

/// Parses the `data` of one SSE event (not `[DONE]`).
pub fn parse_chunk(data: &str) -> Result<Vec<ChunkPart>, String> {
    let v: Value = serde_json::from_str(data).map_err(|e| {
        let shown: String = data.chars().take(80).collect();
        format!("malformed JSON in stream ({e}): {shown:?}")
    })?;
    let mut parts = Vec::new();
    if let Some(err) = v.get("error") {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| err.as_str().map(str::to_string))
            .unwrap_or_else(|| err.to_string());
        parts.push(ChunkPart::Error(msg));
        return Ok(parts);
    }
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        for c in choices {
            let delta = c.get("delta").or_else(|| c.get("message"));
            if let Some(d) = delta {
                for key in ["reasoning_content", "reasoning"] {
                    if let Some(r) = d.get(key).and_then(Value::as_str).filter(|r| !r.is_empty()) {
                        parts.push(ChunkPart::Reasoning(r.len()));
                    }
                }
                if let Some(t) = d.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    parts.push(ChunkPart::Content(t.to_string()));
                }
                if d.get("tool_calls").is_some_and(|t| !t.is_null()) {
                    parts.push(ChunkPart::ToolCall);
                }
            }
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                parts.push(ChunkPart::Finish(f.to_string()));
            }
        }
    }
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        parts.push(ChunkPart::Usage { prompt: n("prompt_tokens"), completion: n("completion_tokens") });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChunkPart::*;

    fn check(data: &str, expect: &[ChunkPart]) {
        assert_eq!(parse_chunk(data).unwrap(), expect, "{data}");
    }

    #[test]
    fn provider_shapes() {
        // OpenAI: role-only first chunk, then content, then finish, then usage with empty choices.
        check(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#, &[]);
        check(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#, &[Content("Hi".into())]);
        check(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#, &[Finish("stop".into())]);
        check(
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}"#,
            &[Usage { prompt: 9, completion: 3 }],
        );
        // Ollama / LM Studio: content null on the last chunk, usage null elsewhere.
        check(
            r#"{"choices":[{"delta":{"content":null},"finish_reason":"stop"}],"usage":null}"#,
            &[Finish("stop".into())],
        );
        // llama.cpp / vLLM reasoning models: reasoning_content is never content.
        check(r#"{"choices":[{"delta":{"reasoning_content":"think"}}]}"#, &[Reasoning(5)]);
        // OpenRouter: `reasoning`.
        check(r#"{"choices":[{"delta":{"reasoning":"hmm","content":"Yes"}}]}"#, &[Reasoning(3), Content("Yes".into())]);
        check(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}"#, &[ToolCall]);
    }

    #[test]
    fn error_objects_mid_stream() {
        check(r#"{"error":{"message":"overloaded","code":529}}"#, &[Error("overloaded".into())]);
        check(r#"{"error":"model not found"}"#, &[Error("model not found".into())]);
    }

    #[test]
    fn malformed_json_is_an_error_with_context() {
        let e = parse_chunk("{\"choices\": [").unwrap_err();
        assert!(e.contains("malformed JSON"), "{e}");
    }

    #[test]
    fn request_body_streams() {
        let b = request_body("m", &[Message::new("user", "hi")], None, Some(64));
        assert_eq!(b["max_tokens"], 64);
        assert_eq!(b["stream"], true);
        assert_eq!(b["messages"][0]["role"], "user");
    }
}
