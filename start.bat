@echo off
rem Windows: double-click to start MedAssist. First run creates .venv, installs packages and builds the model.
cd /d "%~dp0"
if not exist .venv\Scripts\python.exe (
  echo Creating the virtual environment ^(.venv^) ...
  py -3.11 -m venv .venv || python -m venv .venv || (echo MedAssist needs Python 3.11 from python.org & pause & exit /b 1)
)
if not exist .venv\.installed-0.3 (
  echo Installing packages ^(first run: several minutes^) ...
  .venv\Scripts\python.exe -m pip install -q -c constraints.txt -e ".[model]" || (pause & exit /b 1)
  type nul > .venv\.installed-0.3
)
.venv\Scripts\medassist.exe %*
if errorlevel 1 pause
