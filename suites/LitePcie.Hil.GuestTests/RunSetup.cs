using LitePcie.Hil.Fixtures.Allure;
using NUnit.Framework;

// One test at a time: the checks share one board and one driver.
[assembly: NonParallelizable]
[assembly: AllureHook]
