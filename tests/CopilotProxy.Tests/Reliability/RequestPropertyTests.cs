using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;
using CsCheck;

namespace CopilotProxy.Tests.Reliability;

/// <summary>
/// Random requests through the real in-process proxy in front of the fake LM Studio: anything a client can send gets a
/// 4xx in the front door's error shape at worst, never a 5xx or a dead process; and the fields docs/ollama-api.md says
/// are mapped arrive upstream with the values the client gave. Fixed iteration count; CsCheck_Seed=... reruns a failure.
/// </summary>
public sealed class RequestPropertyTests
{
    private const string Key = "qwen/qwen3-8b";
    private const long Iterations = 120;

    private static readonly (string Door, HttpMethod Method, string Path)[] Endpoints =
    [
        ("ollama", HttpMethod.Post, "api/chat"), ("ollama", HttpMethod.Post, "api/generate"), ("ollama", HttpMethod.Post, "api/embed"),
        ("ollama", HttpMethod.Post, "api/embeddings"), ("ollama", HttpMethod.Post, "api/show"), ("ollama", HttpMethod.Post, "api/pull"),
        ("ollama", HttpMethod.Post, "api/create"), ("ollama", HttpMethod.Post, "api/copy"), ("ollama", HttpMethod.Post, "api/push"),
        ("ollama", HttpMethod.Delete, "api/delete"), ("ollama", HttpMethod.Post, "v1/chat/completions"),
        ("gateway", HttpMethod.Post, "v1/chat/completions"), ("gateway", HttpMethod.Post, "v1/completions"), ("gateway", HttpMethod.Post, "v1/embeddings"),

        // Not /v1/responses nor /v1/messages: the proxy relays those bodies untouched, and the fake answers 404 there like
        // an upstream without those APIs, which the proxy reports as 501 on purpose.
    ];

    private static readonly Gen<string> Text = Gen.OneOf("hi", "", "é€😀", "line\nbreak", "\"quoted\"", "\\", "\u0000", "中文", "   ").Array[0, 4].Select(string.Concat);

    /// <summary>Almost-right bodies find more than pure noise: valid requests cut short, wrong types, deep nesting, noise.</summary>
    private static readonly Gen<byte[]> Junk = Gen.Frequency(
        (3, (IGen<byte[]>)Gen.Byte.Array[0, 600]),
        (3, Gen.Select(Gen.OneOf(
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi","images":["aGk="]}],"stream":false,"options":{"num_predict":5}}""",
                """{"model":"qwen/qwen3-8b","prompt":"hi","raw":true,"format":{"type":"object"},"stream":true}""",
                """{"model":"qwen/qwen3-8b","input":["a","b"],"messages":[{"role":"tool","tool_calls":[{"function":{"name":"f","arguments":{}}}]}]}"""),
            Gen.Int[0, 200], (json, cut) => Encoding.UTF8.GetBytes(json[..Math.Min(cut, json.Length)]))),
        (4, Gen.OneOf(
                """{"model":5}""", """{"model":null,"messages":"x"}""", """{"model":"qwen/qwen3-8b","messages":[null]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":7,"content":{}}]}""", """{"model":"qwen/qwen3-8b","options":[]}""",
                """{"model":"qwen/qwen3-8b","think":"maybe","keep_alive":"forever and ever"}""", """{"model":"qwen/qwen3-8b","format":5}""",
                """{"model":"qwen/qwen3-8b","input":{"x":1}}""", """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":[{"type":"image_url"}]}]}""",
                """{"model":"qwen/qwen3-8b","prompt":"x","options":{"num_predict":1e400,"temperature":"hot"}}""", "[]", "null", "\"\"", "{}",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi","images":[null]}]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"tools":[null]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"assistant","content":"","tool_calls":[null]}]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"assistant","tool_calls":[{"function":null}]}]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":null}]}""",
                """{"model":"qwen/qwen3-8b","prompt":"x","images":[null]}""", """{"model":"qwen/qwen3-8b","prompt":null,"system":null}""",
                """{"model":"qwen/qwen3-8b","input":[null]}""", """{"model":"qwen/qwen3-8b","options":{"stop":[null]}}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"options":{"stop":[null,5]}}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"format":{"type":null}}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"keep_alive":null,"think":null}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"tool","content":"r","tool_name":null}]}""",
                """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":[null]}],"stream":false}""")
            .Select(Encoding.UTF8.GetBytes)),
        (1, Gen.Int[1, 3000].Select(depth => Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)))));

    [Fact]
    public async Task ArbitraryBody_OnAnyEndpoint_NeverGetsA5xxAndTheProxyKeepsServing()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key), FakeModel.Embedding("text-embedding-nomic-embed-text-v1.5")]);
        await Gen.Select(Gen.Int[0, Endpoints.Length - 1], Junk, Gen.Bool).SampleAsync(async t =>
        {
            var (endpoint, body, declareJson) = t;
            var (door, method, path) = Endpoints[endpoint];
            using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
            if (declareJson)
            {
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            using var response = await (door == "ollama" ? proxy.Ollama : proxy.Gateway).SendAsync(request);
            var answer = await response.Content.ReadAsStringAsync();
            // 501 is the documented answer of the endpoints LM Studio has no counterpart for (docs/ollama-api.md), whatever the body.
            var documented501 = response.StatusCode == System.Net.HttpStatusCode.NotImplemented && path is "api/create" or "api/push" or "api/copy" or "api/delete";
            Assert.True((int)response.StatusCode < 500 || documented501, $"{method} /{path} answered {(int)response.StatusCode}: {answer}");
            if ((int)response.StatusCode >= 400)
            {
                // The front door's own error shape, so the client shows a message instead of a parse failure.
                Assert.NotNull(JsonNode.Parse(answer)?["error"]);
            }
        }, iter: Iterations * 3, threads: 1, seed: Seed, print: t => $"{Endpoints[t.Item1].Path} body: {Convert.ToBase64String(t.Item2)}");

        using var version = await proxy.Ollama.GetAsync("api/version");
        Assert.True(version.IsSuccessStatusCode);
    }

    private static readonly Gen<JsonObject> OllamaOptions = Gen.Select(
        Gen.Double[0, 2].Nullable(0.5), Gen.Double[0, 1].Nullable(0.5), Gen.Int[1, 100].Nullable(0.5), Gen.Int[0, 1_000_000].Nullable(0.5),
        Gen.Int[-2, 4096].Nullable(0.4), Gen.Double[-2, 2].Nullable(0.6), Gen.Double[-2, 2].Nullable(0.6), Gen.Double[0.5, 2].Nullable(0.6))
        .Select(Text.Array[0, 3].Null(0.5), (t, stop) =>
        {
            var (temperature, topP, topK, seed, numPredict, presence, frequency, repeat) = t;
            var o = new JsonObject();
            void Put(string name, JsonNode? value)
            {
                if (value is not null)
                {
                    o[name] = value;
                }
            }

            Put("temperature", temperature);
            Put("top_p", topP);
            Put("top_k", topK);
            Put("seed", seed);
            Put("num_predict", numPredict);
            Put("presence_penalty", presence);
            Put("frequency_penalty", frequency);
            Put("repeat_penalty", repeat);
            if (stop is not null)
            {
                o["stop"] = stop.Length == 1 ? JsonValue.Create(stop[0]) : new JsonArray([.. stop.Select(s => (JsonNode?)JsonValue.Create(s))]);
            }

            return o;
        });

    private static readonly Gen<(string Role, string Content)[]> Messages =
        Gen.Select(Gen.OneOf("system", "user", "assistant"), Text).Array[1, 5];

    [Fact]
    public async Task OllamaChat_RandomRequest_MappedFieldsArriveUpstreamUnchanged()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        await Gen.Select(Messages, OllamaOptions, Gen.OneOf<string?>(null, "json")).SampleAsync(async t =>
        {
            var (messages, options, format) = t;
            var request = new JsonObject
            {
                ["model"] = Key,
                ["stream"] = false,
                ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode?)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]),
                ["options"] = options.DeepClone(),
            };
            if (format is not null)
            {
                request["format"] = format;
            }

            var before = proxy.Upstream.Requests.Count;
            using var response = await proxy.Ollama.PostAsync("api/chat", new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            var sent = proxy.Upstream.Requests.Skip(before).Single(r => r.Path == "/v1/chat/completions").Json!.AsObject();

            Assert.Equal(Key, sent["model"]!.GetValue<string>());
            var upstreamMessages = sent["messages"]!.AsArray();
            Assert.Equal(messages.Length, upstreamMessages.Count);
            for (var i = 0; i < messages.Length; i++)
            {
                Assert.Equal(messages[i].Role, upstreamMessages[i]!["role"]!.GetValue<string>());
                Assert.Equal(messages[i].Content, upstreamMessages[i]!["content"]!.GetValue<string>());
            }

            foreach (var name in new[] { "temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty", "repeat_penalty" })
            {
                Assert.True(JsonNode.DeepEquals(options[name], sent[name]), $"{name}: sent {options[name]?.ToJsonString() ?? "nothing"}, upstream got {sent[name]?.ToJsonString() ?? "nothing"}");
            }

            var numPredict = options["num_predict"]?.GetValue<int>();
            Assert.Equal(numPredict > 0 ? numPredict : null, sent["max_tokens"]?.GetValue<int>());
            var stop = options["stop"] switch
            {
                null => null,
                JsonArray a => a.Select(s => s!.GetValue<string>()).ToArray(),
                var s => [s.GetValue<string>()],
            };
            Assert.Equal(stop, sent["stop"]?.AsArray().Select(s => s!.GetValue<string>()).ToArray());
            Assert.Equal(format is null ? null : "json_schema", sent["response_format"]?["type"]?.GetValue<string>());
        }, iter: Iterations, threads: 1, seed: Seed);
    }

    [Fact]
    public async Task OpenAIChat_RandomRequest_ArrivesUpstreamAsSent()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var sampling = Gen.Select(Gen.Double[0, 2].Nullable(0.5), Gen.Double[0, 1].Nullable(0.5), Gen.Int[1, 4096].Nullable(0.5), Gen.Int[0, 1_000_000].Nullable(0.5), Text.Array[0, 3].Null(0.5));
        await Gen.Select(Messages, sampling, Text).SampleAsync(async t =>
        {
            var (messages, (temperature, topP, maxTokens, seed, stop), custom) = t;
            var request = new JsonObject
            {
                ["model"] = Key,
                ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode?)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]),
                ["temperature"] = temperature,
                ["top_p"] = topP,
                ["max_tokens"] = maxTokens,
                ["seed"] = seed,
                ["stop"] = stop is null ? null : new JsonArray([.. stop.Select(s => (JsonNode?)JsonValue.Create(s))]),
                // A field the proxy knows nothing of: LM Studio may, so it must pass through untouched.
                ["x_custom"] = new JsonObject { ["text"] = custom },
            };
            foreach (var absent in request.Where(p => p.Value is null).Select(p => p.Key).ToList())
            {
                request.Remove(absent);
            }

            var before = proxy.Upstream.Requests.Count;
            using var response = await proxy.Gateway.PostAsync("v1/chat/completions", new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            var sent = proxy.Upstream.Requests.Skip(before).Single(r => r.Path == "/v1/chat/completions").Json!.AsObject();
            foreach (var (name, value) in request)
            {
                Assert.True(JsonNode.DeepEquals(value, sent[name]), $"{name}: sent {value?.ToJsonString()}, upstream got {sent[name]?.ToJsonString() ?? "nothing"}");
            }
        }, iter: Iterations, threads: 1, seed: Seed);
    }

    private static string? Seed => Environment.GetEnvironmentVariable("CsCheck_Seed");
}
