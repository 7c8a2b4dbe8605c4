import { render } from "preact";
import { App } from "./ui/App";
import { restore } from "./state/app";
import "./app.css";

render(<App />, document.getElementById("app")!);
void restore();
