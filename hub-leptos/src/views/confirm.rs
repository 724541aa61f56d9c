//! The confirmation dialog (`<dialog>` opened modally: focus moves into it, Esc cancels,
//! focus returns to where it was).

use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;

/// What the dialog asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The heading.
    pub title: String,
    /// The consequence, in a sentence.
    pub body: String,
    /// Label of `button#confirm-yes`.
    pub yes: String,
    /// Whether "yes" destroys something (styled as danger).
    pub danger: bool,
}

/// The dialog; `answer` gets `true` for yes, `false` for no or Esc, after which `question`
/// is cleared and focus returns to the opener.
#[component]
pub fn ConfirmDialog(
    question: RwSignal<Option<Question>>,
    answer: Callback<bool>,
    /// Id of the element that gets focus after "yes" (where the outcome appears).
    focus_fallback: &'static str,
    /// Prefix of the dialog's element ids (`<name>-dialog`, `-title`, `-body`, `-no`,
    /// `-yes`), unique per dialog on the page.
    #[prop(default = "confirm")]
    name: &'static str,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let no = NodeRef::<html::Button>::new();
    let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);

    Effect::new(move || {
        let open = question.read().is_some();
        let (Some(d), Some(no)) = (dialog.get(), no.get()) else {
            return;
        };
        if open && !d.open() {
            let active = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.active_element())
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            opener.set_value(active);
            if d.show_modal().is_ok() {
                let _ = no.focus();
            }
        } else if !open && d.open() {
            d.close();
        }
    });

    let finish = move |yes: bool| {
        if question.get_untracked().is_none() {
            return;
        }
        question.set(None);
        if let Some(d) = dialog.get_untracked() {
            d.close();
        }
        // "No" returns to the button that opened the dialog; "yes" changes that button's row
        // (the button goes away), so focus moves to where the outcome is announced.
        let back = opener
            .with_value(|o| o.clone())
            .filter(|el| !yes && el.is_connected())
            .or_else(|| {
                web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id(focus_fallback))
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            });
        if let Some(el) = back {
            let _ = el.focus();
        }
        answer.run(yes);
    };

    view! {
        <dialog
            id=format!("{name}-dialog")
            node_ref=dialog
            aria-labelledby=format!("{name}-title")
            aria-describedby=format!("{name}-body")
            on:cancel=move |ev: web_sys::Event| {
                ev.prevent_default();
                finish(false);
            }
        >
            <h3 id=format!("{name}-title")>{move || question.get().map(|q| q.title).unwrap_or_default()}</h3>
            <p id=format!("{name}-body")>{move || question.get().map(|q| q.body).unwrap_or_default()}</p>
            <div class="row row-end">
                <button id=format!("{name}-no") type="button" class="btn btn-quiet" node_ref=no on:click=move |_| finish(false)>
                    "Cancel"
                </button>
                <button
                    id=format!("{name}-yes")
                    type="button"
                    class=move || {
                        if question.get().is_some_and(|q| q.danger) { "btn btn-danger" } else { "btn" }
                    }
                    on:click=move |_| finish(true)
                >
                    {move || question.get().map(|q| q.yes).unwrap_or_default()}
                </button>
            </div>
        </dialog>
    }
}
