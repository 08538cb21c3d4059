using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>
/// Debian's headless chromium through /usr/bin/chromedriver (apt packages chromium and chromium-driver). Nothing is
/// downloaded: the driver and browser paths are given, so Selenium Manager never runs.
/// </summary>
/// <remarks>
/// Without chromium the browser tests are skipped with the install command as the reason, so a developer's plain
/// <c>dotnet test</c> stays usable; under CI=true (where .ci/run installs it) they fail instead, so CI can never pass
/// by not running them.
/// </remarks>
public sealed class Browser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private Browser(ChromeDriver driver) => Driver = driver;

    public ChromeDriver Driver { get; }

    public static Browser Start(int width = 1280, int height = 800, bool dark = false, params string[] arguments)
    {
        if (!File.Exists(ChromiumPath) || !File.Exists(DriverPath))
        {
            const string message = "The dashboard's browser tests need Debian's chromium and chromium-driver (" + ChromiumPath + ", " + DriverPath
                + "): apt-get update && apt-get install -y chromium chromium-driver";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message);
            }

            Assert.Skip(message);
        }

        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", $"--window-size={width},{height}",
            "--force-device-scale-factor=1", "--no-first-run", "--disable-extensions", "--lang=en-US");
        options.AddArguments(arguments);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        // The window size of --window-size includes no browser chrome in headless mode; set the viewport exactly.
        driver.ExecuteCdpCommand("Emulation.setDeviceMetricsOverride", new Dictionary<string, object?>
        {
            ["width"] = width,
            ["height"] = height,
            ["deviceScaleFactor"] = 1,
            ["mobile"] = false,
        });
        driver.ExecuteCdpCommand("Emulation.setEmulatedMedia", new Dictionary<string, object?>
        {
            ["features"] = new object[] { new Dictionary<string, object> { ["name"] = "prefers-color-scheme", ["value"] = dark ? "dark" : "light" } },
        });
        return new Browser(driver);
    }

    public void Open(Uri url) => Driver.Navigate().GoToUrl(url);

    /// <summary>Waits until the element is there (and, when asked, its text matches); fails with what the page shows otherwise.</summary>
    public IWebElement WaitFor(string css, Func<IWebElement, bool>? until = null, string? because = null)
    {
        var wait = new WebDriverWait(Driver, Patience) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            return wait.Until(d =>
            {
                foreach (var element in d.FindElements(By.CssSelector(css)))
                {
                    if (until is null || until(element))
                    {
                        return element;
                    }
                }

                return null;
            })!;
        }
        catch (WebDriverTimeoutException)
        {
            Assert.Fail($"The page never showed {css}{(because is null ? "" : " " + because)}. The page read: {Text("body")}");
            throw;
        }
    }

    public void WaitUntil(Func<bool> condition, string what)
    {
        var wait = new WebDriverWait(Driver, Patience) { PollingInterval = TimeSpan.FromMilliseconds(100) };
        try
        {
            wait.Until(_ => condition());
        }
        catch (WebDriverTimeoutException)
        {
            Assert.Fail($"Timed out waiting for {what}. The page read: {Text("body")}");
        }
    }

    public string Text(string css) => Driver.FindElements(By.CssSelector(css)) is { Count: > 0 } found ? found[0].Text : "(nothing)";

    public object? Script(string script) => Driver.ExecuteScript(script);

    /// <summary>Runs a script that ends by calling <c>done(value)</c>, and returns that value.</summary>
    public object? ScriptAsync(string script) => Driver.ExecuteAsyncScript("const done = arguments[arguments.length - 1];\n" + script);

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
    }
}
