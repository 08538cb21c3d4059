using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Upstream;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Tests.Reliability;

/// <summary>
/// TCP may cut an upstream stream anywhere: inside a multi-byte character, between the \r and \n of a line end, inside
/// "data:". Whatever the cuts, the client must see exactly what it sees when the stream arrives in one piece. Random
/// valid LM Studio streams (text, reasoning, parallel tool calls, usage, in-band errors) go through the relay and both
/// Ollama translations, once whole and once split. Fixed iteration count; a failure prints the seed to rerun it
/// (CsCheck_Seed=... dotnet test ...).
/// </summary>
public sealed class SplitStreamPropertyTests
{
    private const long Iterations = 300;

    /// <summary>Decodes as a client's parser does: an invalid sequence throws instead of quietly becoming U+FFFD.</summary>
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly Uri UpstreamUrl = new("http://127.0.0.1:1234/v1/chat/completions");

    // Pieces chosen to put 1-, 2-, 3- and 4-byte UTF-8 sequences, JSON escapes and line breaks at every position.
    private static readonly Gen<string> Token = Gen.OneOf("Hel", "lo", " ", "é", "€", "😀", "中文", "\n", "\r\n", "\"q\"", "\\", "\t", "data: ", "ok");

    private static readonly Gen<FakeToolCall> ToolCall = Gen.Select(
        Gen.OneOf("read_file", "run_in_terminal", "grep_search"),
        Token.Array[0, 4],
        Gen.Int[1, 6],
        (name, words, piece) => new FakeToolCall(name, new JsonObject { ["arg"] = string.Concat(words), ["n"] = words.Length }.ToJsonString()) { PieceLength = piece });

    /// <summary>One LM Studio stream, as the body bytes it sends.</summary>
    private static readonly Gen<StreamCase> Stream = Gen.Select(
        Token.Array[0, 6],
        Token.Array[0, 8],
        ToolCall.Array[0, 3],
        Gen.Bool,
        Gen.Int[0, 3],
        Gen.Bool)
        .Select(
            Gen.OneOf("\n", "\r\n", "\r"),
            (t, lineEnd) =>
            {
                var (reasoning, content, calls, interleave, ending, usage) = t;
                var sse = new LmStudioSse("qwen/qwen3-8b");
                if (reasoning.Length > 0)
                {
                    sse.Reasoning("reasoning_content", reasoning);
                }

                if (content.Length > 0)
                {
                    sse.Content(content);
                }

                if (calls.Length > 0)
                {
                    sse.ToolCalls(new ToolCallStreamOptions { Interleave = interleave }, calls);
                }

                // 0: finish; 1: finish then usage; 2: an in-band error instead of a finish; 3: finish, no [DONE].
                switch (ending)
                {
                    case 2:
                        sse.Raw("{\"error\":{\"message\":\"model crashed: é€😀\"}}");
                        break;
                    case 3:
                        sse.Finish(calls.Length > 0 ? "tool_calls" : "stop").WithoutDone();
                        break;
                    default:
                        sse.Finish(calls.Length > 0 ? "tool_calls" : "stop");
                        break;
                }

                if (usage && ending != 2)
                {
                    sse.Usage(12, 34);
                }

                var body = Encoding.UTF8.GetBytes(string.Concat(sse.Select(p => "data: " + p + lineEnd + lineEnd)));
                return new StreamCase(body, string.Concat(content), calls.Select(c => c.Name).ToArray());
            });

    /// <summary>A stream and where TCP cut it: random offsets plus offsets inside UTF-8 sequences and inside CRLFs.</summary>
    private static readonly Gen<(StreamCase Stream, int[] Cuts)> SplitStream = Stream.SelectMany(s =>
    {
        var tricky = TrickyOffsets(s.Body);
        var anyCut = Gen.Int[1, Math.Max(1, s.Body.Length - 1)];
        var trickyCut = tricky.Length == 0 ? anyCut : Gen.Int[0, tricky.Length - 1].Select(i => tricky[i]);
        return Gen.Select(anyCut.Array[0, 10], trickyCut.Array[0, 10], Gen.Bool, (a, b, singleBytes) =>
            (s, singleBytes && s.Body.Length < 600 ? Enumerable.Range(1, s.Body.Length - 1).ToArray() : a.Concat(b).Distinct().Order().ToArray()));
    });

    [Fact]
    public async Task OpenAIRelay_SplitAnywhere_ClientSeesTheSameStream()
    {
        await SplitStream.SampleAsync(async c =>
        {
            var whole = await RelayAsync(c.Stream.Body, []);
            var split = await RelayAsync(c.Stream.Body, c.Cuts);
            Assert.Equal(whole, split);
            Assert.Equal(c.Stream.Content, ContentOfSse(whole));
        }, iter: Iterations, threads: 1, print: Print, seed: Seed);
    }

    [Theory]
    [InlineData(OllamaAnswerShape.Chat, true)]
    [InlineData(OllamaAnswerShape.Chat, false)]
    [InlineData(OllamaAnswerShape.Generate, true)]
    public async Task OllamaTranslation_SplitAnywhere_ClientSeesTheSameAnswer(OllamaAnswerShape shape, bool stream)
    {
        await SplitStream.SampleAsync(async c =>
        {
            var whole = await TranslateAsync(c.Stream.Body, [], shape, stream);
            var split = await TranslateAsync(c.Stream.Body, c.Cuts, shape, stream);
            Assert.Equal(whole, split);
            if (!whole.Contains("\"error\"", StringComparison.Ordinal))
            {
                Assert.Equal(c.Stream.Content, ContentOfNdjson(whole, shape));
                foreach (var name in shape == OllamaAnswerShape.Chat ? c.Stream.ToolNames : [])
                {
                    Assert.Contains("\"name\":\"" + name + "\"", whole, StringComparison.Ordinal);
                }
            }
        }, iter: Iterations, threads: 1, print: Print, seed: Seed);
    }

    [Fact]
    public async Task SseReader_InvalidUtf8FromTheUpstream_ReachesTheClientAsReplacementCharacters()
    {
        // Found by the chaos drill: 0xC3 0x28 0xFF inside a token was relayed as is, and the client's JSON parser threw.
        var parts = new LmStudioSse("m").Content("bad ", "@BAD@").Finish().ToList();
        var bad = parts[1].Split("@BAD@");
        var body = new List<byte>(Encoding.UTF8.GetBytes("data: " + parts[0] + "\n\ndata: " + bad[0]));
        body.AddRange(new byte[] { 0xC3, 0x28, 0xFF });
        body.AddRange(Encoding.UTF8.GetBytes(bad[1] + "\n\ndata: " + parts[2] + "\n\ndata: [DONE]\n\n"));

        var relayed = await RelayAsync([.. body], []);
        var translated = await TranslateAsync([.. body], [], OllamaAnswerShape.Chat, stream: true);

        Assert.Equal("bad \uFFFD(\uFFFD", ContentOfSse(relayed));
        Assert.Equal("bad \uFFFD(\uFFFD", ContentOfNdjson(translated, OllamaAnswerShape.Chat));
    }

    private static string? Seed => Environment.GetEnvironmentVariable("CsCheck_Seed");

    private static string Print((StreamCase Stream, int[] Cuts) c) =>
        $"body ({c.Stream.Body.Length} bytes): {Encoding.UTF8.GetString(c.Stream.Body)}\ncuts: {string.Join(',', c.Cuts)}";

    /// <summary>Offsets that fall inside a multi-byte UTF-8 sequence or between \r and \n.</summary>
    private static int[] TrickyOffsets(byte[] body) =>
        Enumerable.Range(1, Math.Max(0, body.Length - 1))
            .Where(i => (body[i] & 0xC0) == 0x80 || (body[i - 1] == (byte)'\r' && body[i] == (byte)'\n')).ToArray();

    private static async Task<string> RelayAsync(byte[] body, int[] cuts)
    {
        using var output = new MemoryStream();
        var client = PipeWriter.Create(output);
        using (var relay = new SseRelay(client, "client-model", NullLogger.Instance))
        {
            using var timeout = new ActivityTimeout(TimeSpan.FromSeconds(30), CancellationToken.None);
            using var response = Answer(body, cuts);
            await relay.RunAsync(new UpstreamAnswer(response, timeout, UpstreamUrl, null));
        }

        await client.CompleteAsync();
        return StrictUtf8.GetString(output.ToArray());
    }

    private static async Task<string> TranslateAsync(byte[] body, int[] cuts, OllamaAnswerShape shape, bool stream)
    {
        using var output = new MemoryStream();
        var client = PipeWriter.Create(output);
        using (var translator = new ChunkTranslator(client, "client-model", shape, stream, showThinking: true, Stopwatch.GetTimestamp()))
        {
            using var timeout = new ActivityTimeout(TimeSpan.FromSeconds(30), CancellationToken.None);
            using var response = Answer(body, cuts);
            var failure = await UpstreamPipeline.ReadEventsAsync(new UpstreamAnswer(response, timeout, UpstreamUrl, null), translator, stream ? client : null);
            if (failure is not null)
            {
                translator.WriteError(failure.Message);
            }
            else if (translator.UpstreamError is { } error)
            {
                translator.WriteError(error);
            }
            else
            {
                translator.WriteDone();
            }
        }

        await client.CompleteAsync();
        return Normalise(StrictUtf8.GetString(output.ToArray()));
    }

    /// <summary>Timestamps and durations differ between two runs by nature; everything else must not.</summary>
    private static string Normalise(string ndjson) =>
        string.Join('\n', ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var node = JsonNode.Parse(line)!.AsObject();
            foreach (var key in node.Select(p => p.Key).Where(k => k == "created_at" || k.EndsWith("_duration", StringComparison.Ordinal)).ToList())
            {
                node.Remove(key);
            }

            return node.ToJsonString();
        }));

    private static HttpResponseMessage Answer(byte[] body, int[] cuts)
    {
        var content = new StreamContent(new CutStream(body, cuts));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/event-stream");
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
    }

    private static string ContentOfSse(string sse)
    {
        var text = new StringBuilder();
        foreach (var line in sse.Split('\n'))
        {
            if (line.StartsWith("data: {", StringComparison.Ordinal)
                && JsonNode.Parse(line[6..]) is JsonObject o && o["choices"] is JsonArray { Count: > 0 } choices
                && choices[0]?["delta"]?["content"] is JsonValue v)
            {
                text.Append(v.GetValue<string>());
            }
        }

        return text.ToString();
    }

    private static string ContentOfNdjson(string ndjson, OllamaAnswerShape shape)
    {
        var text = new StringBuilder();
        foreach (var line in ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var o = JsonNode.Parse(line)!;
            var value = shape == OllamaAnswerShape.Chat ? o["message"]?["content"] : o["response"];
            if (value is JsonValue v)
            {
                text.Append(v.GetValue<string>());
            }
        }

        return text.ToString();
    }

    internal sealed record StreamCase(byte[] Body, string Content, string[] ToolNames);

    /// <summary>A response body that hands out its bytes in the pieces given, one piece per read, as TCP segments would.</summary>
    private sealed class CutStream(byte[] body, int[] cuts) : Stream
    {
        private int _position;
        private int _nextCut;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => body.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_nextCut < cuts.Length && cuts[_nextCut] <= _position)
            {
                _nextCut++;
            }

            var end = _nextCut < cuts.Length ? Math.Min(cuts[_nextCut], body.Length) : body.Length;
            var n = Math.Min(buffer.Length, end - _position);
            body.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
