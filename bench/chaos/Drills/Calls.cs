using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace CopilotProxy.Bench.Drills;

/// <summary>What a client saw of one request: enough to judge "nothing lost, no hang, the right error".</summary>
internal sealed record Outcome(int Status, string Body, TimeSpan Elapsed, bool TimedOut, string? Exception)
{
    /// <summary>Every event or line the client got parsed as JSON (a client's own parser would not choke).</summary>
    public bool AllJson { get; init; }

    /// <summary>The answer ended the way its protocol ends: [DONE], a done/error NDJSON line, or one whole JSON body.</summary>
    public bool Terminated { get; init; }

    /// <summary>The error text the client got, from a status body, an SSE error event or an NDJSON error line.</summary>
    public string? Error { get; init; }

    /// <summary>Generated text the client got.</summary>
    public string Content { get; init; } = "";

    public string Summary()
    {
        if (TimedOut)
        {
            return $"no answer after {Elapsed.TotalSeconds:0}s";
        }

        if (Exception is not null)
        {
            return $"client error: {Exception}";
        }

        var error = Error is null ? "" : $", error \"{Trim(Error, 90)}\"";
        return $"{Status} in {Elapsed.TotalSeconds:0.0}s{error}{(Terminated ? "" : ", unterminated")}{(AllJson ? "" : ", non-JSON data")}";
    }

    public static string Trim(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}

internal enum Api
{
    OpenAIStream,
    OpenAIJson,
    OllamaChat,
    OllamaGenerate,
    OllamaTags,
}

/// <summary>Clients for the two front doors, reading answers the way VS Code's and the SDKs' parsers do.</summary>
internal static class Calls
{
    public static HttpClient NewClient(int maxConnections = 256) =>
        new(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        })
        { Timeout = Timeout.InfiniteTimeSpan };

    public static async Task<Outcome> SendAsync(HttpClient http, ProxyProcess proxy, Api api, string model, TimeSpan timeout)
    {
        var (uri, body) = api switch
        {
            Api.OpenAIStream => (new Uri(proxy.Gateway, "/v1/chat/completions"), OpenAIBody(model, true)),
            Api.OpenAIJson => (new Uri(proxy.Gateway, "/v1/chat/completions"), OpenAIBody(model, false)),
            Api.OllamaChat => (new Uri(proxy.Ollama, "/api/chat"), "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
            Api.OllamaGenerate => (new Uri(proxy.Ollama, "/api/generate"), "{\"model\":\"" + model + "\",\"prompt\":\"hi\"}"),
            _ => (new Uri(proxy.Ollama, "/api/tags"), null),
        };
        var started = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, uri);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            var bytes = await response.Content.ReadAsByteArrayAsync(cts.Token);
            var text = Encoding.UTF8.GetString(bytes);
            var outcome = new Outcome((int)response.StatusCode, text, started.Elapsed, false, null);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            return mediaType switch
            {
                "text/event-stream" => JudgeSse(outcome, bytes),
                "application/x-ndjson" => JudgeNdjson(outcome, bytes),
                _ => JudgeJson(outcome, bytes),
            };
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return new Outcome(0, "", started.Elapsed, true, null);
        }
        catch (HttpRequestException ex)
        {
            return new Outcome(0, "", started.Elapsed, false, Describe(ex));
        }
        catch (IOException ex)
        {
            return new Outcome(0, "", started.Elapsed, false, Describe(ex));
        }
    }

    private static string Describe(Exception ex) => ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;

    private static string OpenAIBody(string model, bool stream) =>
        "{\"model\":\"" + model + "\",\"stream\":" + (stream ? "true" : "false") + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    private static Outcome JudgeSse(Outcome outcome, byte[] bytes)
    {
        bool allJson = true, done = false;
        string? error = null;
        var content = new StringBuilder();
        foreach (var line in Lines(bytes))
        {
            if (!line.AsSpan().StartsWith("data:"u8))
            {
                continue;
            }

            var data = line.AsSpan(5).TrimStart((byte)' ');
            if (data.SequenceEqual("[DONE]"u8))
            {
                done = true;
                continue;
            }

            if (!TryParse(data, out var doc))
            {
                allJson = false;
                continue;
            }

            using (doc)
            {
                var root = doc!.RootElement;
                if (root.TryGetProperty("error", out var e))
                {
                    error = ErrorText(e);
                }
                else if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                {
                    foreach (var choice in choices.EnumerateArray())
                    {
                        if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                        {
                            content.Append(c.GetString());
                        }
                    }
                }
            }
        }

        return outcome with { AllJson = allJson, Terminated = done, Error = error, Content = content.ToString() };
    }

    private static Outcome JudgeNdjson(Outcome outcome, byte[] bytes)
    {
        bool allJson = true, terminated = false;
        string? error = null;
        var content = new StringBuilder();
        foreach (var line in Lines(bytes))
        {
            if (line.Length == 0)
            {
                continue;
            }

            terminated = false;
            if (!TryParse(line, out var doc))
            {
                allJson = false;
                continue;
            }

            using (doc)
            {
                var root = doc!.RootElement;
                if (root.TryGetProperty("error", out var e))
                {
                    error = ErrorText(e);
                    terminated = true;
                }
                else
                {
                    terminated = root.TryGetProperty("done", out var d) && d.ValueKind == JsonValueKind.True;
                    if (root.TryGetProperty("message", out var message) && message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                    {
                        content.Append(c.GetString());
                    }
                    else if (root.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String)
                    {
                        content.Append(r.GetString());
                    }
                }
            }
        }

        return outcome with { AllJson = allJson, Terminated = terminated, Error = error, Content = content.ToString() };
    }

    private static Outcome JudgeJson(Outcome outcome, byte[] bytes)
    {
        if (!TryParse(bytes, out var doc))
        {
            return outcome with { AllJson = false, Terminated = false, Error = outcome.Status >= 400 ? outcome.Body : null };
        }

        using (doc)
        {
            var root = doc!.RootElement;
            var error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e) ? ErrorText(e) : null;
            return outcome with { AllJson = true, Terminated = true, Error = error };
        }
    }

    private static string ErrorText(JsonElement error) =>
        error.ValueKind == JsonValueKind.String ? error.GetString() ?? "" :
        error.TryGetProperty("message", out var m) ? m.GetString() ?? "" : error.GetRawText();

    private static bool TryParse(ReadOnlySpan<byte> data, out JsonDocument? doc)
    {
        try
        {
            // Strict UTF-8: a client's parser rejects invalid sequences (JsonDocument only notices when a string is read).
            if (!System.Text.Unicode.Utf8.IsValid(data))
            {
                doc = null;
                return false;
            }

            doc = JsonDocument.Parse(data.ToArray());
            return true;
        }
        catch (JsonException)
        {
            doc = null;
            return false;
        }
    }

    private static List<byte[]> Lines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        var start = 0;
        for (var i = 0; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] == (byte)'\n')
            {
                var end = i > start && bytes[i - 1] == (byte)'\r' ? i - 1 : i;
                lines.Add(bytes[start..end]);
                start = i + 1;
            }
        }

        return lines;
    }

    public static bool Ok(Outcome o) => o is { TimedOut: false, Exception: null, Status: (int)HttpStatusCode.OK, Terminated: true, AllJson: true, Error: null };
}
