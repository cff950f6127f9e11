@echo off
rem portunix-db launcher: runs the bundled CLI with Node.js, passing every argument through unchanged.
setlocal
set "NODE_BIN=%PORTUNIX_DB_NODE%"
if "%NODE_BIN%"=="" set "NODE_BIN=node"
where "%NODE_BIN%" >nul 2>nul
if errorlevel 1 if not exist "%NODE_BIN%" (
  echo portunix-db: Node.js 20 or newer is required ^(not found: %NODE_BIN%^). Install it with "portunix install nodejs" or set PORTUNIX_DB_NODE. 1>&2
  exit /b 127
)
"%NODE_BIN%" "%~dp0..\dist\bundle\portunix-db.mjs" %*
exit /b %ERRORLEVEL%
