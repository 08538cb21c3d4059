if (args is ["--check-config", var configPath]) { Environment.Exit(CopilotProxy.Configuration.GatewayConfigCheck.Run(configPath, Console.Out)); }
var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
app.MapGet("/", () => "Ollama is running");
app.Run();
