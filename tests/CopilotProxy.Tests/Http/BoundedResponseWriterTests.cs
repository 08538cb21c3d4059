using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using CopilotProxy.Http;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Buffers;

namespace CopilotProxy.Tests.Http;

/// <summary>
/// One huge event (a 10 MB tool argument, a base64 image) must not leave its buffers behind in the shared array pool,
/// where an idle proxy would hold them for good: neither ours nor the ones Kestrel rents when asked for a large span.
/// </summary>
public sealed class BoundedResponseWriterTests
{
    private const string Key = "qwen/qwen3-8b";

    [Fact]
    public async Task LargeSpan_ReachesKestrelInPoolSizedPieces_BytesIntact()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var inner = new HintRecorder(pipe.Writer);
        var writer = new BoundedResponseWriter(inner);
        var payload = new byte[3 * SharedPool.MaxPooledBytes];
        new Random(7).NextBytes(payload);

        var span = writer.GetSpan(payload.Length);
        payload.CopyTo(span);
        writer.Advance(payload.Length);
        writer.Write("tail"u8);
        await writer.FlushAsync();
        await writer.CompleteAsync();

        Assert.True(inner.LargestHint <= SharedPool.MaxPooledBytes, $"Kestrel's writer was asked for {inner.LargestHint} bytes at once");
        var read = await ReadAllAsync(pipe.Reader);
        Assert.Equal([.. payload, .. "tail"u8.ToArray()], read);
    }

    [Fact]
    public async Task JsonWriterWithAHugeString_NeverAsksKestrelForAHugeSpan()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var inner = new HintRecorder(pipe.Writer);
        var text = new string('x', 2 * SharedPool.MaxPooledBytes) + "\"<é>";
        using (var json = new Utf8JsonWriter(new BoundedResponseWriter(inner)))
        {
            json.WriteStartObject();
            json.WriteString("content", text);
            json.WriteEndObject();
        }

        await pipe.Writer.CompleteAsync();
        Assert.True(inner.LargestHint <= SharedPool.MaxPooledBytes, $"Kestrel's writer was asked for {inner.LargestHint} bytes at once");
        using var document = JsonDocument.Parse(await ReadAllAsync(pipe.Reader));
        Assert.Equal(text, document.RootElement.GetProperty("content").GetString());
    }

    [Fact]
    public void SmallSpans_AreKestrelsOwn()
    {
        var pipe = new Pipe();
        var inner = new HintRecorder(pipe.Writer);
        var writer = new BoundedResponseWriter(inner);
        writer.GetSpan(512);
        writer.Advance(0);
        Assert.Equal(512, inner.LargestHint);
    }

    [Theory]
    [InlineData("v1/chat/completions")]
    [InlineData("api/chat")]
    public async Task HugeContentEvent_ReachesTheClientWhole(string path)
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        var content = new string('x', 3 * SharedPool.MaxPooledBytes) + "<end>";
        upstream.Responder = _ => FakeResponse.Sse(LmStudioStreams.Text(Key, content));
        await using var proxy = await ProxyFixture.StartAsync(upstream);
        var body = $$"""{"model":"{{Key}}","messages":[{"role":"user","content":"hi"}],"stream":true}""";
        using var request = path == "api/chat" ? new HttpRequestMessage(HttpMethod.Post, "api/chat") { Content = new StringContent(body, Encoding.UTF8, "application/json") }
            : ProxyFixture.CopilotPost(path, body);
        using var response = await ProxyFixture.SendStreamingAsync(path == "api/chat" ? proxy.Ollama : proxy.Gateway, request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = new StringBuilder();
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            var json = line.StartsWith("data: {", StringComparison.Ordinal) ? line[6..] : line.StartsWith('{') ? line : null;
            if (json is null)
            {
                continue;
            }

            using var chunk = JsonDocument.Parse(json);
            var piece = path == "api/chat" ? chunk.RootElement.GetProperty("message").GetProperty("content")
                : chunk.RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var c) ? c : default;
            if (piece.ValueKind == JsonValueKind.String)
            {
                text.Append(piece.GetString());
            }
        }

        Assert.Equal(content, text.ToString());
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }

    /// <summary>Kestrel's response writer as far as this matters: it remembers the largest span it was asked for.</summary>
    private sealed class HintRecorder(PipeWriter inner) : PipeWriter
    {
        public int LargestHint { get; private set; }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            LargestHint = Math.Max(LargestHint, sizeHint);
            return inner.GetSpan(sizeHint);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            LargestHint = Math.Max(LargestHint, sizeHint);
            return inner.GetMemory(sizeHint);
        }

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
